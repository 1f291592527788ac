//! `froster-bench pack`: per codec, bytes per frame against the sources, fidelity (PSNR against the lossless
//! RGB), decode ms per frame, loader train clips/s on one core, build speed, and what K400 would take.
use crate::error::{io_err, Result};
use froster_loader::format::{Codec, PixelFormat};
use froster_loader::jpeg::psnr;
use froster_loader::{DecodeOptions, PackReader, PackSource};
use froster_pack::{BuildOptions, EncodeOptions, ListSet, NamedList};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// K400's sources at short side 256 (the README's figure), for the estimate column.
const K400_SOURCE_GB: f64 = 450.0;

/// One codec's row: its options and a label.
fn rows() -> Vec<(&'static str, EncodeOptions)> {
    let lossless = |level| EncodeOptions { codec: Codec::Lossless, zstd_level: level, ..Default::default() };
    let lossy = |codec, floor| EncodeOptions { codec, psnr_floor: floor, ..Default::default() };
    vec![
        ("lossless, I420 + zstd 3", lossless(3)),
        ("lossless, I420 + zstd 9", lossless(9)),
        ("temporal, I420 differences + zstd 3", EncodeOptions { codec: Codec::Temporal, ..lossless(3) }),
        ("compact = h264 (default), GOP 4, >= 40 dB", lossy(Codec::H264, 40.0)),
        ("h264, GOP 4, >= 37 dB", lossy(Codec::H264, 37.0)),
        ("jpeg, >= 40 dB", lossy(Codec::Jpeg, 40.0)),
    ]
}

/// Builds a pack of every video in `videos` per codec and reads it back: a Markdown table, a row each.
pub fn run(videos: &Path, short_side: u32) -> Result<String> {
    let mut names: Vec<String> = std::fs::read_dir(videos)
        .map_err(io_err(videos))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().to_string()))
        .filter(|n| [".mp4", ".avi", ".mkv", ".webm", ".mov"].iter().any(|x| n.ends_with(x)))
        .collect();
    names.sort();
    let list = NamedList { name: "all".into(), items: names.into_iter().map(|n| (n, 0)).collect() };
    let tmp = std::env::temp_dir().join(format!("froster-bench-{}", std::process::id()));
    let mut table = format!(
        "| codec | bytes/frame | vs source | PSNR mean / min (dB) | decode ms/frame | train clips/s, 1 core | \
         build frames/s | K400-256 estimate ({K400_SOURCE_GB:.0} GB of sources) |\n|---|---|---|---|---|---|---|---|\n"
    );
    let mut reference: Option<PackReader> = None;
    for (i, (label, mut encode)) in rows().into_iter().enumerate() {
        encode.decode = DecodeOptions { short_side, pixel: PixelFormat::I420, ..Default::default() };
        let out = tmp.join(format!("codec-{i}"));
        let o = BuildOptions {
            encode,
            jobs: 2,
            ..BuildOptions::new(videos, ListSet::from_lists(vec![list.clone()], vec![]), &out)
        };
        let s = froster_pack::build(&o)?;
        let r = PackReader::open(&out)?;
        let ms = decode_ms(&r, s.frames)?;
        let fidelity = match (&reference, encode.codec) {
            (Some(lossless), Codec::Jpeg | Codec::H264 | Codec::Temporal) => fidelity(lossless, &r)?,
            _ => "lossless".into(),
        };
        let items: Vec<(u32, i64)> = (0..20).flat_map(|_| (0..r.videos().len() as u32).map(|v| (v, 0))).collect();
        let src = Arc::new(PackSource::with_items(Arc::new(PackReader::open(&out)?), items));
        let clips_per_s = super::loader::rate(src, super::loader::TRAIN, 1, 96)?;
        let ratio = s.pack_bytes as f64 / s.source_bytes.max(1) as f64;
        table += &format!(
            "| {label} | {:.0} | {ratio:.1}x | {fidelity} | {ms:.3} | {clips_per_s:.0} | {:.0} | {:.1} TB |\n",
            s.pack_bytes as f64 / s.frames.max(1) as f64,
            s.frames as f64 / s.seconds,
            ratio * K400_SOURCE_GB / 1000.0
        );
        if reference.is_none() {
            reference = Some(r);
        } else {
            std::fs::remove_dir_all(&out).map_err(io_err(&out))?;
        }
    }
    drop(reference);
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(table)
}

/// Reads every stored frame as RGB: ms per frame.
fn decode_ms(r: &PackReader, frames: u64) -> Result<f64> {
    let mut z = zstd::bulk::Decompressor::new().map_err(io_err(r.dir()))?;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let t0 = Instant::now();
    for i in 0..r.videos().len() {
        for f in 0..r.video(i).frames as usize {
            r.read_rgb(i, f, false, &mut z, &mut a, &mut b)?;
        }
    }
    Ok(t0.elapsed().as_secs_f64() * 1e3 / frames.max(1) as f64)
}

/// PSNR of every frame of `pack` against the same frame of the lossless pack, as "mean / min".
fn fidelity(lossless: &PackReader, pack: &PackReader) -> Result<String> {
    let (mut sum, mut min, mut n) = (0.0, f64::INFINITY, 0);
    for i in 0..pack.videos().len() {
        let Some(j) = lossless.find(&pack.video(i).id) else { continue };
        for f in 0..pack.video(i).frames as usize {
            let p = psnr(&lossless.frame_rgb(j, f)?, &pack.frame_rgb(i, f)?);
            (sum, min, n) = (sum + p, min.min(p), n + 1);
        }
    }
    if min.is_infinite() {
        return Ok(format!("lossless (all {n} frames equal)"));
    }
    Ok(format!("{:.1} / {:.1}", sum / n.max(1) as f64, min))
}
