//! The lossy codecs (h264, the default; jpeg) against the lossless one: every stored frame keeps the floor
//! against the lossless RGB in any reading order, the loader's clips differ only within it, a flipped byte is
//! caught (for h264, also by reads later in its GOP), a resumed build and replace keep the folder's codec, a folder
//! refuses a second codec, and a floor the codec cannot reach fails the video (jpeg) or ends on x264's lossless
//! rung (h264).
mod common;
use common::*;
use froster_loader::format::{Codec, PixelFormat, H264_GOP};
use froster_loader::jpeg::psnr;
use froster_loader::{Loader, LoaderConfig, Mode, PackReader, PackSource};
use froster_pack::BuildOptions;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const FLOOR: f64 = 40.0;

fn opts(dir: &Path, out: &Path, codec: Codec, floor: f64) -> BuildOptions {
    let items: Vec<(String, i64)> = video_names().into_iter().map(|n| (n, 0)).collect();
    let list = write_list(dir, "all", &items);
    let mut o = options(&videos_dir(), vec![list], out, 128, PixelFormat::I420);
    (o.encode.codec, o.encode.psnr_floor) = (codec, floor);
    o
}

fn build(dir: &Path, name: &str, codec: Codec, floor: f64) -> (PathBuf, froster_pack::BuildSummary) {
    let out = dir.join(name);
    let s = froster_pack::build(&opts(dir, &out, codec, floor)).unwrap();
    (out, s)
}

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

fn catch_flipped_bytes_keep_their_codec_and_refuse_another(codec: Codec) {
    let tmp = tempfile::tempdir().unwrap();
    let (pack, _) = build(tmp.path(), "lossy", codec, FLOOR);
    // A resumed build (same options) finds everything packed; replace keeps the folder's codec and floor.
    let again = froster_pack::build(&opts(tmp.path(), &pack, codec, FLOOR)).unwrap();
    assert_eq!((again.resumed, again.failed), (video_names().len(), 0));
    let r = PackReader::open(&pack).unwrap();
    let id = r.video(0).id.clone();
    drop(r);
    froster_pack::ops::replace(&pack, &id, &videos_dir().join(&id)).unwrap();
    let r = PackReader::open(&pack).unwrap();
    let idx = r.find(&id).unwrap();
    let v = r.video(idx).clone();
    assert!(r.manifest().codec == codec && v.psnr.is_some_and(|[_, min]| min as f64 >= FLOOR));
    let report = froster_pack::ops::inspect(&pack, Some(&id)).unwrap();
    assert!(report.codec == codec && report.videos[0].codec == codec, "inspect reports each video's codec");
    assert!(v.frames as usize > H264_GOP, "{id}: too short to test a GOP");
    // Flip a byte inside frame 1 (for h264, a predicted frame): verify names it once.
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
    if codec == Codec::H264 {
        // Frame 2 decodes through frame 1: the read fails, naming frame 1, instead of returning wrong pixels.
        let err = r.frame_rgb(idx, 2).unwrap_err().to_string();
        assert!(err.contains("checksum") && err.contains("frame 1"), "{err}");
    }
    assert!(r.frame_rgb(idx, H264_GOP).is_ok(), "the next GOP does not depend on frame 1");
    drop(r);
    // The folder keeps one codec: a lossless build into it is refused, naming the codec.
    let err = froster_pack::build(&opts(tmp.path(), &pack, Codec::Lossless, FLOOR)).unwrap_err().to_string();
    let name = serde_json::to_string(&codec).unwrap();
    assert!(err.contains(name.trim_matches('"')), "{err}");
}

#[test]
fn h264_packs_catch_flipped_bytes_keep_their_codec_and_refuse_another() {
    catch_flipped_bytes_keep_their_codec_and_refuse_another(Codec::H264);
}

#[test]
fn jpeg_packs_catch_flipped_bytes_keep_their_codec_and_refuse_another() {
    catch_flipped_bytes_keep_their_codec_and_refuse_another(Codec::Jpeg);
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
