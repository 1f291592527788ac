//! The lossy codecs (h264, the default; jpeg) against the lossless one: every stored frame keeps the floor
//! against the lossless RGB in any reading order, the loader's clips differ only within it, a flipped byte is
//! caught (for h264, also by reads later in its GOP), a resumed build and replace keep the folder's codec, a folder
//! refuses a second codec, and a floor the codec cannot reach fails the video (jpeg) or ends on x264's lossless
//! rung (h264).
mod common;
use common::codec_checks::{self, build};
use common::*;
use froster_loader::format::{Codec, PixelFormat};
use froster_loader::jpeg::psnr;
use froster_loader::{Loader, LoaderConfig, Mode, PackReader, PackSource};
use std::path::Path;
use std::sync::Arc;

const FLOOR: f64 = 40.0;

fn test_clips(pack: &Path) -> Vec<Vec<u8>> {
    let src = Arc::new(PackSource::new(Arc::new(PackReader::open(pack).unwrap()), "all").unwrap());
    let cfg =
        LoaderConfig { batch_size: 1, workers: 2, mode: Mode::Test { scale: 96 }, crop: 96, ..Default::default() };
    Loader::new(src, cfg).unwrap().map(|b| b.unwrap().u8).collect()
}

fn frames_and_clips_keep_the_floor(codec: Codec, pixel: PixelFormat) {
    let tmp = tempfile::tempdir().unwrap();
    let (lossless, a) = build(tmp.path(), "lossless", Codec::Lossless, FLOOR);
    let (lossy, b) = build(tmp.path(), "lossy", codec, FLOOR);
    assert_eq!(b.failed, 0, "{}", std::fs::read_to_string(lossy.join("failed.csv")).unwrap());
    assert!(b.pack_bytes * 2 < a.pack_bytes, "{codec:?} {} vs lossless {} bytes", b.pack_bytes, a.pack_bytes);
    let (l, c) = (PackReader::open(&lossless).unwrap(), PackReader::open(&lossy).unwrap());
    assert_eq!((c.manifest().codec, c.manifest().pixel, c.manifest().psnr_floor), (codec, pixel, Some(FLOOR)));
    for i in 0..c.videos().len() {
        let v = c.video(i);
        let j = l.find(&v.id).unwrap();
        assert_eq!((v.frames, v.width, v.height), (l.video(j).frames, l.video(j).width, l.video(j).height));
        let [_, min] = v.psnr.unwrap();
        assert!(min as f64 >= FLOOR, "{}: recorded min {min}", v.id);
        // Backwards, so that every h264 read starts afresh from its key frame.
        for f in (0..v.frames as usize).rev() {
            let p = psnr(&l.frame_rgb(j, f).unwrap(), &c.frame_rgb(i, f).unwrap());
            assert!(p >= FLOOR - 1e-9, "{} frame {f}: {p:.2} dB", v.id);
        }
    }
    // The loader's clips (resize and crop included) differ from the lossless pack's only within the floor.
    let (x, y) = (test_clips(&lossless), test_clips(&lossy));
    assert_eq!(x.len(), y.len(), "clips read");
    for (k, (a, b)) in x.iter().zip(&y).enumerate() {
        assert!(psnr(a, b) >= FLOOR - 1.0, "clip {k}: {:.2} dB", psnr(a, b));
    }
}

#[test]
fn h264_frames_and_clips_keep_the_floor_against_lossless() {
    frames_and_clips_keep_the_floor(Codec::H264, PixelFormat::I420);
}

#[test]
fn jpeg_frames_and_clips_keep_the_floor_against_lossless() {
    frames_and_clips_keep_the_floor(Codec::Jpeg, PixelFormat::Rgb);
}

#[test]
fn h264_packs_catch_flipped_bytes_keep_their_codec_and_refuse_another() {
    codec_checks::flipped_bytes_resume_replace_and_one_codec(Codec::H264, FLOOR);
}

#[test]
fn jpeg_packs_catch_flipped_bytes_keep_their_codec_and_refuse_another() {
    codec_checks::flipped_bytes_resume_replace_and_one_codec(Codec::Jpeg, FLOOR);
}

#[test]
fn a_floor_no_jpeg_reaches_fails_the_video_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let (pack, s) = build(tmp.path(), "strict", Codec::Jpeg, 70.0);
    assert_eq!((s.ok, s.failed), (0, video_names().len()));
    let failed = std::fs::read_to_string(pack.join("failed.csv")).unwrap();
    assert!(failed.contains("below the PSNR floor") && failed.contains("70 dB floor"), "{failed}");
}

#[test]
fn a_floor_above_every_lossy_rung_ends_on_x264_lossless_frames() {
    let tmp = tempfile::tempdir().unwrap();
    let (lossless, _) = build(tmp.path(), "lossless", Codec::Lossless, FLOOR);
    let (pack, s) = build(tmp.path(), "strict", Codec::H264, 70.0);
    assert_eq!((s.ok, s.failed), (video_names().len(), 0));
    let (l, c) = (PackReader::open(&lossless).unwrap(), PackReader::open(&pack).unwrap());
    for i in 0..c.videos().len() {
        let v = c.video(i);
        let j = l.find(&v.id).unwrap();
        assert_eq!(v.psnr, Some([100.0, 100.0]), "{}: exact frames are recorded as 100 dB", v.id);
        for f in [0, 1, v.frames as usize - 1] {
            assert!(l.frame_rgb(j, f).unwrap() == c.frame_rgb(i, f).unwrap(), "{} frame {f} differs", v.id);
        }
    }
}

#[test]
fn a_jpeg_pack_from_when_the_codec_was_named_compact_still_opens() {
    let tmp = tempfile::tempdir().unwrap();
    let (pack, _) = build(tmp.path(), "jpeg", Codec::Jpeg, FLOOR);
    // Rewrite the manifest as the older froster-pack sealed it: codec "compact", checksum over that text.
    let mut m = PackReader::open(&pack).unwrap().manifest().clone();
    let old = |m: &froster_loader::format::Manifest| {
        serde_json::to_string(m).unwrap().replacen(r#""codec":"jpeg""#, r#""codec":"compact""#, 1)
    };
    m.checksum = None;
    m.checksum = Some(crc32fast::hash(old(&m).as_bytes()));
    std::fs::write(pack.join("manifest.json"), old(&m)).unwrap();
    let r = PackReader::open(&pack).unwrap();
    assert_eq!(r.manifest().codec, Codec::Jpeg);
    assert!(r.frame_rgb(0, 1).is_ok());
}
