//! The loader over real packs: determinism across worker counts, test views, bad clips, shutdown, video source.
mod common;
use common::*;
use froster_loader::format::PixelFormat;
use froster_loader::{Loader, LoaderConfig, Mode, Output, PackReader, PackSource, SamplingConfig, VideoSource};
use std::sync::Arc;

fn pack(tmp: &std::path::Path, short_side: u32) -> Arc<PackReader> {
    let out = tmp.join("pack");
    real_pack(&out, short_side);
    Arc::new(PackReader::open(&out).unwrap())
}

fn small(workers: usize, mode: Mode) -> LoaderConfig {
    LoaderConfig { batch_size: 2, workers, seed: 11, epoch: 3, mode, crop: 64, ..Default::default() }
}

fn run(src: Arc<dyn froster_loader::ClipSource>, cfg: LoaderConfig) -> Vec<froster_loader::Batch> {
    Loader::new(src, cfg).unwrap().map(|b| b.unwrap()).collect()
}

#[test]
fn batches_are_identical_for_1_2_and_8_workers() {
    let tmp = tempfile::tempdir().unwrap();
    let reader = pack(tmp.path(), 96);
    let src: Arc<dyn froster_loader::ClipSource> = Arc::new(PackSource::new(reader, "train").unwrap());
    for mode in [Mode::Train { min_scale: 64, max_scale: 80 }, Mode::Test { scale: 64 }] {
        let one = run(src.clone(), small(1, mode));
        assert_eq!(one, run(src.clone(), small(2, mode)), "{mode:?}: 2 workers");
        assert_eq!(one, run(src.clone(), small(8, mode)), "{mode:?}: 8 workers");
        let clips: usize = one.iter().map(|b| b.labels.len()).sum();
        let per_video = if matches!(mode, Mode::Test { .. }) { 3 } else { 1 };
        assert_eq!(clips, src.len() * per_video, "{mode:?}: every clip once");
        assert_eq!(one[0].shape, [2, 8, 64, 64, 3]);
        assert_eq!(one[0].u8.len(), 2 * 8 * 64 * 64 * 3);
    }
    let train = Mode::Train { min_scale: 64, max_scale: 80 };
    let other_epoch = run(src.clone(), LoaderConfig { epoch: 4, ..small(2, train) });
    assert_ne!(run(src.clone(), small(2, train)), other_epoch, "a new epoch reshuffles and redraws");
}

#[test]
fn test_views_cover_each_video_and_short_videos_work() {
    let tmp = tempfile::tempdir().unwrap();
    let reader = pack(tmp.path(), 96);
    let src = Arc::new(PackSource::new(reader.clone(), "train").unwrap());
    let cfg = LoaderConfig {
        sampling: SamplingConfig { num_crops: 3, ..Default::default() },
        output: Output::F32Cthw,
        shuffle: false,
        ..small(2, Mode::Test { scale: 64 })
    };
    let batches = run(src.clone(), cfg);
    let views: Vec<(usize, (usize, usize))> =
        batches.iter().flat_map(|b| b.videos.iter().copied().zip(b.views.iter().copied())).collect();
    assert_eq!(views.len(), reader.videos().len() * 9);
    for v in 0..reader.videos().len() {
        assert_eq!(views.iter().filter(|(x, _)| *x == v).count(), 9);
    }
    let b = &batches[0];
    assert_eq!(b.shape, [2, 3, 8, 64, 64]);
    let mean = b.f32.iter().map(|x| *x as f64).sum::<f64>() / b.f32.len() as f64;
    assert!(mean.abs() < 3.0 && b.f32.iter().all(|x| x.is_finite()), "normalised values");
}

#[test]
fn a_corrupt_frame_is_an_error_in_strict_mode_and_skipped_otherwise() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("pack");
    real_pack(&out, 96);
    // Corrupt every frame payload of video 0 (keep headers/tables intact).
    let r = PackReader::open(&out).unwrap();
    let v = r.video(0).clone();
    let shard = out.join(&r.manifest().shards[v.shard as usize].file);
    let table = v.offset as usize + v.table_len();
    drop(r);
    let mut bytes = std::fs::read(&shard).unwrap();
    for b in &mut bytes[table..(v.offset + v.bytes) as usize] {
        *b ^= 0x5A;
    }
    std::fs::write(&shard, bytes).unwrap();
    let reader = Arc::new(PackReader::open(&out).unwrap());
    let src: Arc<dyn froster_loader::ClipSource> = Arc::new(PackSource::new(reader.clone(), "train").unwrap());
    let strict = LoaderConfig { strict: true, shuffle: false, ..small(2, Mode::Test { scale: 64 }) };
    let err = Loader::new(src.clone(), strict).unwrap().find_map(|b| b.err()).expect("an error");
    let msg = err.to_string();
    assert!(msg.contains(&v.id) && msg.contains("frame"), "{msg}");
    let mut lenient =
        Loader::new(src.clone(), LoaderConfig { shuffle: false, ..small(2, Mode::Test { scale: 64 }) }).unwrap();
    let clips: usize = lenient.by_ref().map(|b| b.unwrap().labels.len()).sum();
    assert_eq!(clips, (reader.videos().len() - 1) * 3);
    assert_eq!(lenient.skipped(), 3);
}

#[test]
fn dropping_a_loader_mid_epoch_shuts_down_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let reader = pack(tmp.path(), 96);
    let src = Arc::new(PackSource::new(reader, "train").unwrap());
    for _ in 0..5 {
        let mut l =
            Loader::new(src.clone(), LoaderConfig { batch_size: 1, prefetch: 1, ..small(4, Mode::Test { scale: 64 }) })
                .unwrap();
        let first = l.next().unwrap().unwrap();
        assert_eq!(first.labels.len(), 1);
        drop(l); // joins every thread; a hang here fails the test by timeout
    }
}

#[test]
fn keep_every_packs_fewer_frames_and_still_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let items: Vec<(String, i64)> = video_names().into_iter().map(|n| (n, 1)).collect();
    let list = write_list(tmp.path(), "train", &items);
    let out = tmp.path().join("pack4");
    let mut o = options(&videos_dir(), vec![list], &out, 96, PixelFormat::I420);
    o.encode.keep_every = 4;
    froster_pack::build(&o).unwrap();
    let r = Arc::new(PackReader::open(&out).unwrap());
    for v in r.videos() {
        assert_eq!(v.frames, v.source_frames.div_ceil(4), "{}", v.id);
        assert_eq!(v.stride, 4);
    }
    let batches =
        run(Arc::new(PackSource::new(r, "train").unwrap()), small(2, Mode::Train { min_scale: 64, max_scale: 80 }));
    assert_eq!(batches.iter().map(|b| b.labels.len()).sum::<usize>(), items.len());
}

/// Seeking straight into the videos gives exactly the frames that a native-size I420 pack stores.
#[test]
fn video_source_gives_the_same_test_clips_as_packs() {
    let tmp = tempfile::tempdir().unwrap();
    // MP4s are read by seeking; AVIs (unreliable timestamps) by decoding from the start: both must match.
    let items: Vec<(String, i64)> = video_names().into_iter().map(|v| (v, 0)).collect();
    let list = write_list(tmp.path(), "mp4", &items);
    let out = tmp.path().join("mp4pack");
    froster_pack::build(&options(&videos_dir(), vec![list], &out, 0, PixelFormat::I420)).unwrap();
    let packs = Arc::new(PackSource::new(Arc::new(PackReader::open(&out).unwrap()), "mp4").unwrap());
    for mode in [Mode::Test { scale: 64 }, Mode::Train { min_scale: 64, max_scale: 80 }] {
        let cfg = LoaderConfig { shuffle: false, ..small(2, mode) };
        let a = run(packs.clone(), cfg.clone());
        let b = run(Arc::new(VideoSource::new(videos_dir(), items.clone())), cfg);
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert!(x == y, "{mode:?}: videos {:?} differ between the pack and the video source", x.videos);
        }
    }
}
