//! Frame counts and pixels of packed real videos against ffprobe/ffmpeg.
mod common;
use common::*;
use froster_loader::PackReader;
use std::process::Command;

fn ffprobe_frames(path: &std::path::Path) -> usize {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe (installed by scripts/setup.sh)");
    String::from_utf8_lossy(&out.stdout).trim().trim_end_matches(',').parse().expect("ffprobe frame count")
}

fn ffmpeg_rgb(path: &std::path::Path) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-vsync", "passthrough", "-"])
        .output()
        .expect("ffmpeg");
    out.stdout
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let mse: f64 = a.iter().zip(b).map(|(x, y)| (*x as f64 - *y as f64).powi(2)).sum::<f64>() / a.len() as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

#[test]
fn frame_counts_match_ffprobe_and_pixels_match_ffmpeg() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("pack");
    let s = real_pack(&out, 0);
    assert_eq!(s.failed, 0, "{s}");
    let reader = PackReader::open(&out).unwrap();
    let mut zstd = zstd::bulk::Decompressor::new().unwrap();
    let (mut scratch, mut rgb) = (Vec::new(), Vec::new());
    for (i, v) in reader.videos().iter().enumerate() {
        let path = videos_dir().join(&v.id);
        assert_eq!(v.frames as usize, ffprobe_frames(&path), "{}: frame count", v.id);
        let reference = ffmpeg_rgb(&path);
        let fsize = (v.width * v.height * 3) as usize;
        assert_eq!(reference.len(), fsize * v.frames as usize, "{}: ffmpeg frames/size", v.id);
        let mut worst = f64::INFINITY;
        for f in 0..v.frames as usize {
            reader.read_rgb(i, f, true, &mut zstd, &mut scratch, &mut rgb).unwrap();
            worst = worst.min(psnr(&rgb, &reference[f * fsize..(f + 1) * fsize]));
        }
        assert!(worst >= 40.0, "{}: worst frame PSNR {worst:.1} dB", v.id);
    }
}
