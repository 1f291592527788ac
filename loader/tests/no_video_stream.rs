//! Inputs that are not videos GStreamer can finish: a file with no video stream (audio only) is named as such,
//! not "Internal data stream error"; an animated GIF is refused at once instead of stalling for 20 s.
use froster_loader::{decode, DecodeOptions};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A file made by ffmpeg from `input_args` into a fresh folder (removed by the caller).
fn make(dir_tag: &str, name: &str, input_args: &[&str]) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("froster-{dir_tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let status = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y"])
        .args(input_args)
        .arg(&path)
        .status()
        .expect("ffmpeg (installed by scripts/setup.sh)");
    assert!(status.success());
    (dir, path)
}

fn decode_error(path: &Path) -> String {
    decode(path, &DecodeOptions::default(), None, None, |_, _, _, _| Ok(())).unwrap_err().to_string()
}

#[test]
fn an_audio_only_file_says_it_has_no_video_stream() {
    let (dir, path) = make("audio-only", "audio_only.mp4", &["-f", "lavfi", "-i", "sine=d=1", "-c:a", "aac"]);
    let err = decode_error(&path);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(err.contains("no video stream") && err.contains("audio_only.mp4"), "{err}");
}

#[test]
fn an_animated_gif_is_refused_at_once_not_after_a_stall() {
    let (dir, path) = make("gif", "anim.gif", &["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10:duration=1"]);
    let t0 = std::time::Instant::now();
    let err = decode_error(&path);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(err.contains("animated GIF") && err.contains("anim.gif"), "{err}");
    assert!(t0.elapsed().as_secs() < 5, "took {:?}", t0.elapsed());
}
