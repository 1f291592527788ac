//! Real-world streams against the reference's data path: a variable-frame-rate mp4, non-integer rates (30000/1001
//! and 30.3), an mp4 whose header counts more frames than decode (an edit list cut with `-c copy`), and a 1080p h264
//! avi, all made here with ffmpeg, plus every real video of the shared folder. For each, the sampled indices of the
//! three test views and five training draws equal the reference's (`scripts/reference_indices.py`, which runs the
//! reimplemented PySlowFast/PyAV path), from the pack and from the video source; the over-counting header packs
//! with a warning and the frames that decode.
use froster_loader::format::{Codec, PixelFormat};
use froster_loader::DecodeOptions;
use froster_loader::{sample, ClipSource, PackReader, PackSource, SamplingConfig, Start, VideoSource};
use froster_pack::{BuildOptions, EncodeOptions, ListSet};
use froster_testkit::{reference_bench_dir, venv_python, video_names, videos_dir};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

const MADE: &[(&str, &[&str])] = &[
    // Drops every 7th and 11th frame of a 30 fps source and keeps the timestamps: irregular gaps.
    (
        "vfr.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=30:duration=6",
            "-vf",
            "select='not(eq(mod(n\\,7)\\,3))*not(eq(mod(n\\,11)\\,5))'",
            "-fps_mode",
            "vfr",
            "-c:v",
            "libx264",
            "-g",
            "30",
        ],
    ),
    ("ntsc.mp4", &["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30000/1001:duration=6", "-c:v", "libx264"]),
    ("odd303.mp4", &["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30.3:duration=6", "-c:v", "libx264"]),
    ("hd1080.avi", &["-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=25:duration=2", "-c:v", "libx264"]),
    // No frame count in the header: the reference decodes everything and samples over it.
    ("uncounted.mkv", &["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=5", "-c:v", "libx264"]),
    ("vp9.webm", &["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=24:duration=3", "-c:v", "libvpx-vp9"]),
];

fn ffmpeg(dir: &Path, out: &str, args: &[&str]) {
    let status = Command::new("ffmpeg")
        .current_dir(dir)
        .args(["-loglevel", "error", "-y"])
        .args(args)
        .args(["-pix_fmt", "yuv420p"].iter().filter(|_| !args.contains(&"copy")))
        .arg(out)
        .status()
        .expect("ffmpeg (installed by scripts/setup.sh)");
    assert!(status.success(), "ffmpeg {out}");
}

/// The made videos in `dir`; returns their names.
fn make_videos(dir: &Path) -> Vec<String> {
    for (name, args) in MADE {
        ffmpeg(dir, name, args);
    }
    // Cut at 1.3 s without re-encoding: the edit list hides the frames before it from decoders, the sample table
    // still counts them (240 in the header, 201 decode).
    ffmpeg(
        dir,
        "src8.mp4",
        &["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30:duration=8", "-c:v", "libx264", "-g", "60"],
    );
    ffmpeg(dir, "overcount.mp4", &["-ss", "1.3", "-i", "src8.mp4", "-c", "copy"]);
    // A phone-style display rotation in the metadata (players turn it; PyAV and the pack keep it as coded).
    ffmpeg(dir, "rotated.mp4", &["-i", "src8.mp4", "-c", "copy", "-metadata:s:v:0", "rotate=90"]);
    std::fs::remove_file(dir.join("src8.mp4")).unwrap();
    let mut names: Vec<String> = MADE.iter().map(|m| m.0.to_string()).collect();
    names.extend(["overcount.mp4".into(), "rotated.mp4".into()]);
    names
}

fn reference(dir: &Path, names: &[String]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/reference_indices.py");
    let o = Command::new(venv_python())
        .arg(script)
        .arg(reference_bench_dir())
        .args(names.iter().map(|n| dir.join(n)))
        .output()
        .unwrap();
    assert!(o.status.success(), "reference_indices.py: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn indices(v: &serde_json::Value) -> Vec<usize> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect()
}

/// Every (start, reference indices) of a video's reference entry.
fn cases(r: &serde_json::Value) -> Vec<(Start, Vec<usize>)> {
    let mut out: Vec<_> = (0..3).map(|k| (Start::View(k), indices(&r["views"][k]))).collect();
    for (u, idx) in r["train"].as_object().unwrap() {
        out.push((Start::Train(u.parse().unwrap()), indices(idx)));
    }
    out
}

fn check_source(what: &str, src: &dyn ClipSource, names: &[String], reference: &serde_json::Value) -> usize {
    let cfg = SamplingConfig::default();
    let mut checked = 0;
    for (i, name) in names.iter().enumerate() {
        let stream = src.stream(i).unwrap();
        let r = &reference[name.as_str()];
        let counted = if stream.uncounted { 0 } else { stream.frames as u64 };
        assert_eq!(counted, r["frames"].as_u64().unwrap(), "{what} {name}: header frames");
        assert_eq!(stream.pts.as_ref().map(|p| p.len() as u64), r["decoded"].as_u64(), "{what} {name}: decoded");
        for (start, want) in cases(r) {
            let w = sample(&stream, &cfg, start);
            assert_eq!(w.indices, want, "{what} {name} {start:?}: {w:?}");
            checked += 1;
        }
    }
    checked
}

fn check_folder(dir: &Path, names: &[String]) {
    let reference = reference(dir, names);
    let tmp = tempfile::tempdir().unwrap();
    let list: String = names.iter().map(|n| format!("{n},0\n")).collect();
    std::fs::write(tmp.path().join("all.csv"), list).unwrap();
    let lists = ListSet::read(&[tmp.path().join("all.csv")]).unwrap();
    let pack = tmp.path().join("pack");
    let decode = DecodeOptions { short_side: 64, pixel: PixelFormat::I420, ..Default::default() };
    let opts = BuildOptions {
        encode: EncodeOptions { decode, keep_every: 1, zstd_level: 1, codec: Codec::Lossless, ..Default::default() },
        jobs: 2,
        ..BuildOptions::new(dir.to_path_buf(), lists, &pack)
    };
    let s = froster_pack::build(&opts).unwrap();
    assert_eq!(s.failed, 0, "{}", std::fs::read_to_string(pack.join("failed.csv")).unwrap());
    let reader = Arc::new(PackReader::open(&pack).unwrap());
    let packed = PackSource::new(reader.clone(), "all").unwrap();
    let ids: Vec<String> = (0..packed.len()).map(|i| packed.id(i).to_string()).collect();
    let n = check_source("pack", &packed, &ids, &reference);
    let video = VideoSource::new(dir, ids.iter().map(|n| (n.clone(), 0)).collect());
    assert_eq!(check_source("video", &video, &ids, &reference), n);
    // Over-counting headers are warnings, with the frames that decode packed.
    for (i, id) in ids.iter().enumerate() {
        let r = &reference[id.as_str()];
        let v = reader.video(i);
        assert_eq!(v.source_frames as u64, r["decoded"].as_u64().unwrap(), "{id}");
        let over = r["frames"].as_u64().unwrap() > r["decoded"].as_u64().unwrap() + 2;
        assert_eq!(v.header_frames as u64, r["frames"].as_u64().unwrap(), "{id}: header_frames (0: uncounted)");
        let rotated = id == "rotated.mp4";
        assert_eq!(v.warning.is_some(), over || rotated, "{id}: warning {:?}", v.warning);
        assert_eq!(v.warning.as_deref().is_some_and(|w| w.contains("orientation")), rotated, "{id}");
        let csv = std::fs::read_to_string(pack.join("warnings.csv")).unwrap();
        assert_eq!(csv.lines().any(|l| l.starts_with(&format!("{id},"))), over || rotated, "{id}:\n{csv}");
    }
}

#[test]
fn made_streams_sample_as_the_reference_from_pack_and_video() {
    let tmp = tempfile::tempdir().unwrap();
    let names = make_videos(tmp.path());
    check_folder(tmp.path(), &names);
}

#[test]
fn shared_videos_sample_as_the_reference_from_pack_and_video() {
    let names: Vec<String> = video_names().into_iter().filter(|n| !n.ends_with(".avi")).collect();
    check_folder(&videos_dir(), &names);
}
