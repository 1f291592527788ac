//! The temporal codec (lossless, zstd of frame differences, a key frame every TEMPORAL_GOP): every frame read in any
//! order equals the lossless pack's, so do the loader's clips; a flipped byte in a difference frame is caught by
//! verify and by reads that pass through it; replace and a resumed build keep the folder's codec; another codec
//! into the folder is refused.
mod common;
use common::*;
use froster_loader::format::{Codec, PixelFormat, TEMPORAL_GOP};
use froster_loader::{Loader, LoaderConfig, Mode, PackReader, PackSource};
use froster_pack::BuildOptions;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn opts(dir: &Path, out: &Path, codec: Codec) -> BuildOptions {
    let items: Vec<(String, i64)> = video_names().into_iter().map(|n| (n, 0)).collect();
    let list = write_list(dir, "all", &items);
    let mut o = options(&videos_dir(), vec![list], out, 128, PixelFormat::I420);
    o.encode.codec = codec;
    o
}

fn build(dir: &Path, name: &str, codec: Codec) -> PathBuf {
    let out = dir.join(name);
    let s = froster_pack::build(&opts(dir, &out, codec)).unwrap();
    assert_eq!(s.failed, 0);
    out
}

fn clips(pack: &Path) -> Vec<Vec<u8>> {
    let src = Arc::new(PackSource::new(Arc::new(PackReader::open(pack).unwrap()), "all").unwrap());
    let cfg = LoaderConfig {
        batch_size: 1,
        workers: 2,
        mode: Mode::Train { min_scale: 96, max_scale: 120 },
        crop: 96,
        seed: 7,
        ..Default::default()
    };
    Loader::new(src, cfg).unwrap().take(6).map(|b| b.unwrap().u8).collect()
}

#[test]
fn temporal_frames_and_clips_equal_the_lossless_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let (lossless, temporal) =
        (build(tmp.path(), "lossless", Codec::Lossless), build(tmp.path(), "temporal", Codec::Temporal));
    let (l, t) = (PackReader::open(&lossless).unwrap(), PackReader::open(&temporal).unwrap());
    assert_eq!((t.manifest().codec, t.manifest().pixel), (Codec::Temporal, PixelFormat::I420));
    for i in 0..t.videos().len() {
        let v = t.video(i);
        let j = l.find(&v.id).unwrap();
        assert_eq!(v.frames, l.video(j).frames);
        assert!(v.frames as usize > TEMPORAL_GOP, "{}: too short to test prediction", v.id);
        // Backwards, so that every read starts afresh from its key frame.
        for f in (0..v.frames as usize).rev() {
            assert!(l.frame_rgb(j, f).unwrap() == t.frame_rgb(i, f).unwrap(), "{} frame {f} differs", v.id);
        }
    }
    assert!(clips(&lossless) == clips(&temporal), "the loader's clips differ");
}

#[test]
fn temporal_packs_catch_flipped_bytes_keep_their_codec_and_refuse_another() {
    let tmp = tempfile::tempdir().unwrap();
    let pack = build(tmp.path(), "temporal", Codec::Temporal);
    // A resumed build (same options) finds everything packed; replace keeps the codec.
    let again = froster_pack::build(&opts(tmp.path(), &pack, Codec::Temporal)).unwrap();
    assert_eq!((again.resumed, again.failed), (video_names().len(), 0));
    let r = PackReader::open(&pack).unwrap();
    let id = r.video(0).id.clone();
    drop(r);
    froster_pack::ops::replace(&pack, &id, &videos_dir().join(&id)).unwrap();
    let r = PackReader::open(&pack).unwrap();
    let idx = r.find(&id).unwrap();
    let v = r.video(idx).clone();
    assert_eq!(r.manifest().codec, Codec::Temporal);
    // Flip a byte inside frame 1 (a difference frame): verify names it, and reading frame 2 (which adds frame 1's
    // difference) fails instead of returning wrong pixels.
    let frame1 = r.frame_bytes(idx, 1).unwrap().0.to_vec();
    let shard = pack.join(&r.manifest().shards[v.shard as usize].file);
    drop(r);
    let mut bytes = std::fs::read(&shard).unwrap();
    let at = bytes.windows(frame1.len()).position(|w| w == frame1.as_slice()).expect("frame 1 in its shard");
    bytes[at + frame1.len() / 2] ^= 0x01;
    std::fs::write(&shard, bytes).unwrap();
    let problems = froster_pack::ops::verify(&pack, false).unwrap();
    assert!(problems.len() == 1 && problems[0].contains(&id) && problems[0].contains("checksum"), "{problems:?}");
    let r = PackReader::open(&pack).unwrap();
    let err = r.frame_rgb(idx, 2).unwrap_err().to_string();
    assert!(err.contains("checksum") && err.contains("frame 1"), "{err}");
    drop(r);
    // The folder keeps one codec: a lossless build into it is refused, naming the codec.
    let err = froster_pack::build(&opts(tmp.path(), &pack, Codec::Lossless)).unwrap_err();
    assert!(err.to_string().contains("temporal"), "{err}");
}
