//! `froster-bench pack`: bytes per frame, decode ms per frame and build speed of pack options on a folder.
use crate::error::{io_err, Result};
use froster_loader::format::PixelFormat;
use froster_loader::{DecodeOptions, PackReader};
use froster_pack::{BuildOptions, EncodeOptions, ListSet, NamedList};
use std::path::Path;
use std::time::Instant;

/// Builds a pack of every video in `videos` per option set and reads it back: a Markdown table, a row each.
pub fn run(videos: &Path, short_side: u32) -> Result<String> {
    let mut names: Vec<String> = std::fs::read_dir(videos)
        .map_err(io_err(videos))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().to_string()))
        .collect();
    names.sort();
    let list = NamedList { name: "all".into(), items: names.into_iter().map(|n| (n, 0)).collect() };
    let tmp = std::env::temp_dir().join(format!("froster-bench-{}", std::process::id()));
    let mut table = String::from(
        "| pixels | zstd | short side | bytes/frame | vs source | decode ms/frame | build videos/s | build frames/s |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for (pixel, level) in
        [(PixelFormat::I420, 1), (PixelFormat::I420, 3), (PixelFormat::I420, 9), (PixelFormat::Rgb, 3)]
    {
        let out = tmp.join(format!("{pixel:?}-{level}"));
        let decode = DecodeOptions { short_side, pixel, ..Default::default() };
        let o = BuildOptions {
            encode: EncodeOptions { decode, keep_every: 1, zstd_level: level },
            jobs: 2,
            ..BuildOptions::new(videos, ListSet::from_lists(vec![list.clone()], vec![]), &out)
        };
        let s = froster_pack::build(&o)?;
        let r = PackReader::open(&out)?;
        let mut z = zstd::bulk::Decompressor::new().map_err(io_err(&out))?;
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let t0 = Instant::now();
        for i in 0..r.videos().len() {
            for f in 0..r.video(i).frames as usize {
                r.read_rgb(i, f, false, &mut z, &mut a, &mut b)?;
            }
        }
        let ms = t0.elapsed().as_secs_f64() * 1e3 / s.frames.max(1) as f64;
        table += &format!(
            "| {pixel:?} | {level} | {short_side} | {:.0} | {:.1}x | {ms:.3} | {:.2} | {:.0} |\n",
            s.pack_bytes as f64 / s.frames.max(1) as f64,
            s.pack_bytes as f64 / s.source_bytes.max(1) as f64,
            s.ok as f64 / s.seconds,
            s.frames as f64 / s.seconds
        );
        std::fs::remove_dir_all(&out).map_err(io_err(&out))?;
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(table)
}
