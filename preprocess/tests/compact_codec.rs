//! The compact codec (JPEG per frame within a PSNR floor) against the lossless one: every stored frame keeps the
//! floor against the lossless RGB, the loader's clips differ only within it, a flipped byte is caught, replace
//! keeps the folder's codec, a folder refuses a second codec, and a floor no JPEG reaches fails the video.
mod common;
use common::*;
use froster_loader::format::{Codec, PixelFormat};
use froster_loader::jpeg::psnr;
use froster_loader::{Loader, LoaderConfig, Mode, PackReader, PackSource};
use froster_pack::BuildOptions;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const FLOOR: f64 = 40.0;

fn build(dir: &Path, name: &str, codec: Codec, floor: f64) -> (PathBuf, froster_pack::BuildSummary) {
    let items: Vec<(String, i64)> = video_names().into_iter().map(|n| (n, 0)).collect();
    let list = write_list(dir, "all", &items);
    let out = dir.join(name);
    let mut o: BuildOptions = options(&videos_dir(), vec![list], &out, 128, PixelFormat::I420);
    (o.encode.codec, o.encode.psnr_floor) = (codec, floor);
    let s = froster_pack::build(&o).unwrap();
    (out, s)
}

fn test_clips(pack: &Path) -> Vec<Vec<u8>> {
    let src = Arc::new(PackSource::new(Arc::new(PackReader::open(pack).unwrap()), "all").unwrap());
    let cfg =
        LoaderConfig { batch_size: 1, workers: 1, mode: Mode::Test { scale: 96 }, crop: 96, ..Default::default() };
    Loader::new(src, cfg).unwrap().map(|b| b.unwrap().u8).collect()
}

#[test]
fn compact_frames_and_clips_keep_the_floor_against_lossless() {
    let tmp = tempfile::tempdir().unwrap();
    let (lossless, a) = build(tmp.path(), "lossless", Codec::Lossless, FLOOR);
    let (compact, b) = build(tmp.path(), "compact", Codec::Compact, FLOOR);
    assert_eq!(b.failed, 0, "{}", std::fs::read_to_string(compact.join("failed.csv")).unwrap());
    // (At this test's 128-pixel frames the gain is small; `froster-bench pack` measures it at 256.)
    assert!(b.pack_bytes < a.pack_bytes, "compact {} vs lossless {} bytes", b.pack_bytes, a.pack_bytes);
    let (l, c) = (PackReader::open(&lossless).unwrap(), PackReader::open(&compact).unwrap());
    assert_eq!(
        (c.manifest().codec, c.manifest().pixel, c.manifest().psnr_floor),
        (Codec::Compact, PixelFormat::Rgb, Some(FLOOR))
    );
    for i in 0..c.videos().len() {
        let v = c.video(i);
        let j = l.find(&v.id).unwrap();
        assert_eq!((v.frames, v.width, v.height), (l.video(j).frames, l.video(j).width, l.video(j).height));
        let [_, min] = v.psnr.unwrap();
        assert!(min as f64 >= FLOOR, "{}: recorded min {min}", v.id);
        for f in 0..v.frames as usize {
            let p = psnr(&l.frame_rgb(j, f).unwrap(), &c.frame_rgb(i, f).unwrap());
            assert!(p >= FLOOR - 1e-9, "{} frame {f}: {p:.2} dB", v.id);
        }
    }
    // The loader's clips (resize and crop included) differ from the lossless pack's only within the floor.
    let (x, y) = (test_clips(&lossless), test_clips(&compact));
    assert_eq!(x.len(), y.len(), "clips read");
    for (k, (a, b)) in x.iter().zip(&y).enumerate() {
        assert!(psnr(a, b) >= FLOOR - 1.0, "clip {k}: {:.2} dB", psnr(a, b));
    }
}

#[test]
fn compact_packs_catch_flipped_bytes_keep_their_codec_and_refuse_another() {
    let tmp = tempfile::tempdir().unwrap();
    let (pack, _) = build(tmp.path(), "compact", Codec::Compact, FLOOR);
    // replace keeps the folder's codec and floor.
    let r = PackReader::open(&pack).unwrap();
    let id = r.video(0).id.clone();
    drop(r);
    froster_pack::ops::replace(&pack, &id, &videos_dir().join(&id)).unwrap();
    let r = PackReader::open(&pack).unwrap();
    let v = r.video(r.find(&id).unwrap()).clone();
    assert!(r.manifest().codec == Codec::Compact && v.psnr.is_some_and(|[_, min]| min as f64 >= FLOOR));
    // A flipped byte inside a stored JPEG is caught by verify, naming the video and frame.
    let shard = pack.join(&r.manifest().shards[v.shard as usize].file);
    drop(r);
    let mut bytes = std::fs::read(&shard).unwrap();
    let at = (v.offset + v.bytes) as usize - 100;
    bytes[at] ^= 0x01;
    std::fs::write(&shard, bytes).unwrap();
    let problems = froster_pack::ops::verify(&pack, false).unwrap();
    assert!(problems.len() == 1 && problems[0].contains(&id) && problems[0].contains("checksum"), "{problems:?}");
    // The folder keeps one codec: a lossless build into it is refused.
    let items: Vec<(String, i64)> = video_names().into_iter().map(|n| (n, 0)).collect();
    let list = write_list(tmp.path(), "all", &items);
    let err = froster_pack::build(&options(&videos_dir(), vec![list], &pack, 128, PixelFormat::I420)).unwrap_err();
    assert!(err.to_string().contains("compact"), "{err}");
}

#[test]
fn a_floor_no_jpeg_reaches_fails_the_video_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let (pack, s) = build(tmp.path(), "strict", Codec::Compact, 70.0);
    assert_eq!((s.ok, s.failed), (0, video_names().len()));
    let failed = std::fs::read_to_string(pack.join("failed.csv")).unwrap();
    assert!(failed.contains("below the PSNR floor") && failed.contains("70 dB floor"), "{failed}");
}
