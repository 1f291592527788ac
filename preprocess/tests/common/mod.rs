#![allow(dead_code)]
pub mod codec_checks;
use froster_loader::format::{Codec, PixelFormat};
use froster_loader::DecodeOptions;
use froster_pack::{BuildOptions, EncodeOptions, ListSet};
use std::path::{Path, PathBuf};

pub use froster_testkit::{video_names, videos_dir};

/// Writes a list `name.csv` of (path, label) lines into `dir`.
pub fn write_list(dir: &Path, name: &str, items: &[(String, i64)]) -> PathBuf {
    let p = dir.join(format!("{name}.csv"));
    let text: String = items.iter().map(|(p, l)| format!("{p},{l}\n")).collect();
    std::fs::write(&p, text).unwrap();
    p
}

pub fn options(root: &Path, lists: Vec<PathBuf>, out: &Path, short_side: u32, pixel: PixelFormat) -> BuildOptions {
    BuildOptions {
        encode: EncodeOptions {
            decode: DecodeOptions { short_side, pixel, ..Default::default() },
            keep_every: 1,
            zstd_level: 3,
            // Exact frames: the tests compare against ffmpeg's decode (the lossy codecs have their own tests).
            codec: Codec::Lossless,
            ..Default::default()
        },
        jobs: 2,
        ..BuildOptions::new(root, ListSet::read(&lists).unwrap(), out)
    }
}

/// A pack of every real video, labelled by position, list `train`.
pub fn real_pack(out: &Path, short_side: u32) -> froster_pack::BuildSummary {
    real_pack_result(out, short_side).unwrap()
}

/// [`real_pack`], the build's error kept.
pub fn real_pack_result(out: &Path, short_side: u32) -> froster_pack::Result<froster_pack::BuildSummary> {
    let names = video_names();
    let items: Vec<(String, i64)> = names.iter().enumerate().map(|(i, n)| (n.clone(), i as i64)).collect();
    let list = write_list(out.parent().unwrap(), "train", &items);
    froster_pack::build(&options(&videos_dir(), vec![list], out, short_side, PixelFormat::I420))
}
