//! A damaged bitstream decodes without a GStreamer error (libav conceals it); its concealed errors are counted:
//! a clean video packs silently, a lightly damaged one with a warning, a heavily damaged one fails with the count.
mod common;
use common::*;
use froster_loader::format::PixelFormat;
use froster_loader::PackReader;
use std::process::Command;

fn flip(data: &mut [u8], count: usize, seed: u64) {
    let n = data.len();
    let mut s = seed;
    for _ in 0..count {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let at = n / 5 + (s as usize) % (n * 3 / 5);
        data[at] ^= 0xFF;
    }
}

#[test]
fn concealed_decoder_errors_are_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("videos");
    std::fs::create_dir_all(&dir).unwrap();
    let status = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30:duration=6"])
        .args(["-c:v", "libx264", "-pix_fmt", "yuv420p"])
        .arg(dir.join("clean.mp4"))
        .status()
        .expect("ffmpeg (installed by scripts/setup.sh)");
    assert!(status.success());
    let clean = std::fs::read(dir.join("clean.mp4")).unwrap();
    for (name, flips) in [("light.mp4", 3), ("heavy.mp4", 200)] {
        let mut bytes = clean.clone();
        flip(&mut bytes, flips, 0x9E37_79B9 + flips as u64);
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let items: Vec<(String, i64)> =
        ["clean.mp4", "light.mp4", "heavy.mp4"].iter().map(|n| (n.to_string(), 0)).collect();
    let list = write_list(tmp.path(), "all", &items);
    let out = tmp.path().join("pack");
    froster_pack::build(&options(&dir, vec![list], &out, 64, PixelFormat::I420)).unwrap();
    let failed = std::fs::read_to_string(out.join("failed.csv")).unwrap();
    assert!(failed.contains("heavy.mp4") && failed.contains("damaged bitstream"), "{failed}");
    let r = PackReader::open(&out).unwrap();
    let clean = r.video(r.find("clean.mp4").unwrap());
    assert_eq!(clean.warning, None);
    let light = r.video(r.find("light.mp4").expect("a light damage still packs"));
    if let Some(w) = &light.warning {
        assert!(w.contains("concealed"), "{w}");
    }
}
