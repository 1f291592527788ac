//! Decodes one video with GStreamer and compresses its frames.
use crate::error::VideoError;
use crate::writer::EncodedVideo;
use froster_loader::format::VideoEntry;
use froster_loader::probe;
use froster_loader::{decode, DecodeOptions};
use std::path::Path;

/// How videos are stored: decoding (size, pixels), frames kept, compression.
#[derive(Debug, Clone, Copy)]
pub struct EncodeOptions {
    /// Decoding: short side and pixel format.
    pub decode: DecodeOptions,
    /// Store every Nth frame.
    pub keep_every: u32,
    /// zstd level of the frames.
    pub zstd_level: i32,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions { decode: DecodeOptions::default(), keep_every: 1, zstd_level: 3 }
    }
}

/// Decodes `path` and compresses every kept frame. The error says why (the caller knows the path).
pub fn encode_video(id: &str, path: &Path, opts: &EncodeOptions) -> Result<EncodedVideo, VideoError> {
    let source_bytes = std::fs::metadata(path).map(|m| m.len()).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => VideoError::NotFound,
        _ => VideoError::Io(e),
    })?;
    let cont = probe(path);
    let mut comp = zstd::bulk::Compressor::new(opts.zstd_level).map_err(VideoError::Io)?;
    let mut frames = Vec::new();
    let keep = opts.keep_every.max(1) as usize;
    // Some decoders emit one frame more than the container holds (packed-B-frame AVIs through avdec_mpeg4 repeat
    // the last picture at EOS); the container's count is what ffprobe and the reference see.
    let limit = cont.frames.map(|n| n as usize).unwrap_or(usize::MAX);
    let info = decode(path, &opts.decode, None, None, |i, px, _, _| {
        if i % keep == 0 && i < limit {
            let bytes = comp.compress(px).map_err(|source| froster_loader::Error::Io { path: path.into(), source })?;
            let crc = crc32fast::hash(&bytes);
            frames.push((bytes, crc));
        }
        Ok(())
    })
    .map_err(|e| match e {
        froster_loader::Error::Decode { reason, .. } => VideoError::Decode(reason),
        other => VideoError::Decode(other.to_string()),
    })?;
    if let Some(expected) = cont.frames {
        // A truncated faststart mp4 ends cleanly after fewer frames than its index promises.
        if info.frames + 2 < expected {
            return Err(VideoError::Truncated { decoded: info.frames, expected });
        }
    }
    let (fps_num, fps_den) = if info.fps_num > 0 { (info.fps_num, info.fps_den) } else { (30, 1) };
    let entry = VideoEntry {
        id: id.to_string(),
        shard: 0,
        offset: 0,
        frames: frames.len() as u32,
        source_frames: info.frames.min(limit as u32),
        width: info.width,
        height: info.height,
        fps_num,
        fps_den,
        ticks_per_frame: cont.ticks_per_frame,
        stride: keep as u32,
        bytes: 0,
        source_bytes,
        table_crc: 0,
    };
    Ok(EncodedVideo { entry, frames })
}
