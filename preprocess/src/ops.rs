//! scan, verify, inspect, replace and compact.
use crate::build::{parallel_encode, progress_bar};
use crate::encode::{encode_video, EncodeOptions};
use crate::error::{io_err, json_err, Error, Result};
use crate::lists::ListSet;
use crate::writer::{next_shard_id, shard_name, write_atomic, ShardWriter};
use froster_loader::format::*;
use froster_loader::PackReader;
use serde::Serialize;
use std::path::Path;

/// Decode check of every listed video, no pack written: how many were checked, and the failures (the lists'
/// own failures first, then each video that does not decode, with the reason).
pub fn scan(root: &Path, lists: &ListSet, jobs: usize, progress: bool) -> Result<ScanReport> {
    let paths = lists.paths.clone();
    let bar = progress_bar(progress, paths.len() as u64, 0);
    // Decoding is what is checked: the cheapest codec.
    let opts = EncodeOptions { zstd_level: 1, codec: Codec::Lossless, ..Default::default() };
    let (mut failed, mut warnings) = (lists.failed.clone(), Vec::new());
    for r in parallel_encode(root, paths.clone(), opts, jobs) {
        match r {
            Err((path, reason)) => failed.push(Failure { path, reason: reason.to_string(), lists: vec![] }),
            Ok(v) => warnings.extend(v.entry.warning.map(|w| (v.entry.id.clone(), w))),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(ScanReport { videos: paths.len() + lists.failed.len(), failed, warnings })
}

/// What `scan` found: videos checked, those that would fail (`failed.csv`) and those that would pack with a
/// warning (`warnings.csv`).
pub struct ScanReport {
    /// Videos checked.
    pub videos: usize,
    /// Would fail.
    pub failed: Vec<Failure>,
    /// Would pack with a warning: (path, warning).
    pub warnings: Vec<(String, String)>,
}

/// Every checksum and every frame: the failures, naming video and frame.
pub fn verify(dir: &Path, progress: bool) -> Result<Vec<String>> {
    let reader = PackReader::open(dir)?;
    let mut zstd = zstd::bulk::Decompressor::new().map_err(io_err(dir))?;
    let mut buf = Vec::new();
    let mut problems = Vec::new();
    let bar = progress_bar(progress, reader.videos().len() as u64, 0);
    for (i, v) in reader.videos().iter().enumerate() {
        for f in 0..v.frames as usize {
            if let Err(e) = reader.check_frame(i, f, &mut zstd, &mut buf) {
                problems.push(e.to_string());
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(problems)
}

#[derive(Debug, Serialize)]
pub struct VideoReport {
    pub id: String,
    pub frames: u32,
    pub source_frames: u32,
    /// The container header's count (more than `source_frames` when it over-counts).
    pub header_frames: u32,
    pub fps: String,
    pub width: u32,
    pub height: u32,
    pub stride: u32,
    pub bytes: u64,
    pub source_bytes: u64,
    /// How its frames are stored (the pack's codec: one per folder).
    pub codec: Codec,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// Lossy packs: PSNR [mean, min] of the stored frames against the lossless RGB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psnr: Option<[f32; 2]>,
}

#[derive(Debug, Serialize)]
pub struct PackReport {
    pub videos: Vec<VideoReport>,
    pub total_videos: usize,
    pub total_frames: u64,
    pub live_bytes: u64,
    pub shard_bytes: u64,
    pub source_bytes: u64,
    pub pixel: PixelFormat,
    /// The frames' codec (one per pack).
    pub codec: Codec,
    pub lists: Vec<(String, usize)>,
    pub failed: usize,
    /// Videos packed with a warning (warnings.csv).
    pub warnings: usize,
}

pub fn inspect(dir: &Path, only: Option<&str>) -> Result<PackReport> {
    let reader = PackReader::open(dir)?;
    let m = reader.manifest();
    let videos: Vec<VideoReport> = m
        .videos
        .iter()
        .filter(|v| only.is_none_or(|id| v.id == id))
        .map(|v| VideoReport {
            id: v.id.clone(),
            frames: v.frames,
            source_frames: v.source_frames,
            header_frames: v.header_frames,
            fps: format!("{}/{}", v.fps_num, v.fps_den),
            width: v.width,
            height: v.height,
            stride: v.stride,
            bytes: v.bytes,
            source_bytes: v.source_bytes,
            codec: m.codec,
            warning: v.warning.clone(),
            psnr: v.psnr,
        })
        .collect();
    if let Some(id) = only {
        if videos.is_empty() {
            return Err(Error::NoVideo { pack: dir.into(), id: id.into(), where_: "" });
        }
    }
    Ok(PackReport {
        total_videos: videos.len(),
        total_frames: videos.iter().map(|v| v.frames as u64).sum(),
        live_bytes: videos.iter().map(|v| v.bytes).sum(),
        shard_bytes: m.shards.iter().map(|s| s.bytes).sum(),
        source_bytes: videos.iter().map(|v| v.source_bytes).sum(),
        videos,
        pixel: m.pixel,
        codec: m.codec,
        lists: m.lists.iter().map(|(k, v)| (k.clone(), v.len())).collect(),
        failed: m.failed.len(),
        warnings: m.videos.iter().filter(|v| v.warning.is_some()).count(),
    })
}

/// Writes stored frame `index` of `id` as an RGB PNG.
pub fn dump_frame(dir: &Path, id: &str, index: usize, out: &Path) -> Result<()> {
    let reader = PackReader::open(dir)?;
    let vi = reader.find(id).ok_or_else(|| Error::NoVideo { pack: dir.into(), id: id.into(), where_: "" })?;
    let v = reader.video(vi);
    let mut zstd = zstd::bulk::Decompressor::new().map_err(io_err(dir))?;
    let (mut scratch, mut rgb) = (Vec::new(), Vec::new());
    reader.read_rgb(vi, index, true, &mut zstd, &mut scratch, &mut rgb)?;
    let f = std::fs::File::create(out).map_err(io_err(out))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(f), v.width, v.height);
    enc.set_color(png::ColorType::Rgb);
    let png_err = |source| Error::Png { path: out.into(), source };
    enc.write_header().map_err(png_err)?.write_image_data(&rgb).map_err(png_err)?;
    Ok(())
}

/// Re-decodes `file` and swaps it in for `id` (a new shard, then the manifest renamed over the old one). A video
/// that failed at build time is added back to the lists that named it. Returns the bytes left unused.
pub fn replace(dir: &Path, id: &str, file: &Path) -> Result<u64> {
    let _lock = crate::lock::PackLock::acquire(dir)?;
    let reader = PackReader::open(dir)?;
    let mut m = reader.manifest().clone();
    drop(reader);
    let existing = m.videos.iter().position(|v| v.id == id);
    let failed = m.failed.iter().find(|f| f.path == id).cloned();
    if existing.is_none() && failed.is_none() {
        return Err(Error::NoVideo { pack: dir.into(), id: id.into(), where_: " or in its failed list" });
    }
    let enc =
        encode_video(id, file, &options_of(&m)).map_err(|source| Error::Replacement { path: file.into(), source })?;
    let shard_id = next_shard_id(dir)?;
    let mut w = ShardWriter::create(dir, shard_id)?;
    let entry = w.append(enc)?;
    w.finish()?;
    let file_name = shard_name(shard_id);
    let shard = dir.join(&file_name);
    let bytes = std::fs::metadata(&shard).map_err(io_err(&shard))?.len();
    m.shards.push(ShardEntry { file: file_name, bytes });
    let entry = VideoEntry { shard: (m.shards.len() - 1) as u32, ..entry };
    match existing {
        Some(vi) => m.videos[vi] = entry,
        None => {
            let vi = m.videos.len() as u32;
            m.videos.push(entry);
            for (list, label) in failed.map(|f| f.lists).unwrap_or_default() {
                m.lists.entry(list).or_default().push((vi, label));
            }
        }
    }
    m.failed.retain(|f| f.path != id);
    crate::build::write_failed_csv(dir, &m.failed)?;
    crate::build::write_warnings_csv(dir, &m.videos)?;
    write_manifest(dir, &m)?;
    Ok(dead_bytes(&m))
}

/// Bytes in shards that no video references.
pub fn dead_bytes(m: &Manifest) -> u64 {
    let shard: u64 = m.shards.iter().map(|s| s.bytes - SHARD_MAGIC.len() as u64).sum();
    shard.saturating_sub(m.videos.iter().map(|v| v.bytes).sum())
}

/// The encode options a pack was built with.
pub fn options_of(m: &Manifest) -> EncodeOptions {
    let mut o =
        EncodeOptions { keep_every: m.keep_every, zstd_level: m.zstd_level, codec: m.codec, ..Default::default() };
    o.psnr_floor = m.psnr_floor.unwrap_or(o.psnr_floor);
    o.decode.short_side = m.short_side;
    o.decode.pixel = if m.codec.is_lossy() { PixelFormat::I420 } else { m.pixel };
    o
}

/// Rewrites the live records into one fresh shard and deletes the old ones. Returns bytes reclaimed.
pub fn compact(dir: &Path) -> Result<u64> {
    let _lock = crate::lock::PackLock::acquire(dir)?;
    let reader = PackReader::open(dir)?;
    let mut m = reader.manifest().clone();
    let before: u64 = m.shards.iter().map(|s| s.bytes).sum();
    let id = next_shard_id(dir)?;
    let mut w = ShardWriter::create(dir, id)?;
    for (i, v) in m.videos.iter_mut().enumerate() {
        let frames = (0..v.frames as usize)
            .map(|f| reader.frame_bytes(i, f).map(|(b, c)| (b.to_vec(), c)))
            .collect::<froster_loader::Result<Vec<_>>>()?;
        let pts = reader.pts(i);
        let e = w.append(crate::writer::EncodedVideo { entry: v.clone(), frames, pts })?;
        *v = VideoEntry { shard: 0, ..e };
    }
    w.finish()?;
    let old: Vec<String> = m.shards.iter().map(|s| s.file.clone()).collect();
    let file = shard_name(id);
    let path = dir.join(&file);
    m.shards = vec![ShardEntry { bytes: std::fs::metadata(&path).map_err(io_err(&path))?.len(), file }];
    drop(reader);
    write_manifest(dir, &m)?;
    for f in old {
        let _ = std::fs::remove_file(dir.join(&f));
        if let Some(id) = crate::writer::shard_id(&f) {
            let _ = std::fs::remove_file(dir.join(crate::writer::sidecar_name(id)));
        }
    }
    Ok(before.saturating_sub(m.shards[0].bytes))
}

/// Writes the manifest atomically: the last step of every change to a pack.
pub fn write_manifest(dir: &Path, m: &Manifest) -> Result<()> {
    let path = dir.join(MANIFEST);
    let mut m = m.clone();
    m.seal();
    write_atomic(&path, &serde_json::to_vec_pretty(&m).map_err(json_err(&path))?)
}
