//! What every codec's pack must do, shared by the codec tests: a resumed build resumes everything, `replace` and
//! `inspect` keep and report the folder's codec, a flipped byte is reported once by verify (and, where frames
//! depend on earlier ones, fails a read through it, not one in the next GOP), another codec is refused.
use super::{options, video_names, videos_dir, write_list};
use froster_loader::format::{Codec, PixelFormat, H264_GOP, TEMPORAL_GOP};
use froster_loader::PackReader;
use froster_pack::BuildOptions;
use std::path::{Path, PathBuf};

/// Every real video at short side 128 into `out`, in `codec` (lossy ones at `floor` dB).
pub fn opts(dir: &Path, out: &Path, codec: Codec, floor: f64) -> BuildOptions {
    let items: Vec<(String, i64)> = video_names().into_iter().map(|n| (n, 0)).collect();
    let list = write_list(dir, "all", &items);
    let mut o = options(&videos_dir(), vec![list], out, 128, PixelFormat::I420);
    (o.encode.codec, o.encode.psnr_floor) = (codec, floor);
    o
}

/// [`opts`] built into `dir/name`.
pub fn build(dir: &Path, name: &str, codec: Codec, floor: f64) -> (PathBuf, froster_pack::BuildSummary) {
    let out = dir.join(name);
    let s = froster_pack::build(&opts(dir, &out, codec, floor)).unwrap();
    (out, s)
}

/// The checks of the module doc on a fresh pack of `codec`.
pub fn flipped_bytes_resume_replace_and_one_codec(codec: Codec, floor: f64) {
    assert_ne!(codec, Codec::Lossless, "the refusal below builds a lossless pack into the folder");
    let tmp = tempfile::tempdir().unwrap();
    let (pack, s) = build(tmp.path(), "pack", codec, floor);
    assert_eq!(s.failed, 0);
    let again = froster_pack::build(&opts(tmp.path(), &pack, codec, floor)).unwrap();
    assert_eq!((again.resumed, again.failed), (video_names().len(), 0));
    let id = PackReader::open(&pack).unwrap().video(0).id.clone();
    froster_pack::ops::replace(&pack, &id, &videos_dir().join(&id)).unwrap();
    let r = PackReader::open(&pack).unwrap();
    let idx = r.find(&id).unwrap();
    let v = r.video(idx).clone();
    assert_eq!(r.manifest().codec, codec);
    if codec.is_lossy() {
        assert!(v.psnr.is_some_and(|[_, min]| min as f64 >= floor), "{id}: {:?}", v.psnr);
    }
    let report = froster_pack::ops::inspect(&pack, Some(&id)).unwrap();
    assert!(report.codec == codec && report.videos[0].codec == codec, "inspect reports each video's codec");
    let gop = H264_GOP.max(TEMPORAL_GOP);
    assert!(v.frames as usize > gop, "{id}: too short to test a GOP");
    // Flip a byte inside frame 1 (a predicted frame where the codec predicts): verify names it once.
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
    if matches!(codec, Codec::H264 | Codec::Temporal) {
        // Frame 2 is read through frame 1: the read fails, naming frame 1, instead of returning wrong pixels.
        let err = r.frame_rgb(idx, 2).unwrap_err().to_string();
        assert!(err.contains("checksum") && err.contains("frame 1"), "{err}");
    }
    assert!(r.frame_rgb(idx, gop).is_ok(), "the next GOP does not depend on frame 1");
    drop(r);
    // The folder keeps one codec: a lossless build into it is refused, naming the folder's codec.
    let err = froster_pack::build(&opts(tmp.path(), &pack, Codec::Lossless, floor)).unwrap_err().to_string();
    let name = serde_json::to_string(&codec).unwrap();
    assert!(err.contains(name.trim_matches('"')), "{err}");
}
