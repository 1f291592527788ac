//! The temporal codec (lossless, zstd of frame differences, a key frame every TEMPORAL_GOP): every frame read in any
//! order equals the lossless pack's, so do the loader's clips; a flipped byte in a difference frame is caught by
//! verify and by reads that pass through it; replace and a resumed build keep the folder's codec; another codec
//! into the folder is refused.
mod common;
use common::codec_checks;
use froster_loader::format::{Codec, PixelFormat, TEMPORAL_GOP};
use froster_loader::{Loader, LoaderConfig, Mode, PackReader, PackSource};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn build(dir: &Path, name: &str, codec: Codec) -> PathBuf {
    let (out, s) = codec_checks::build(dir, name, codec, 40.0);
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
    codec_checks::flipped_bytes_resume_replace_and_one_codec(Codec::Temporal, 40.0);
}
