//! Every manifest field in its range, checked when a pack is opened: a damaged or hand-edited manifest is an
//! error naming the video and field, never a panic, a huge allocation or an endless sampling loop later.
use crate::error::{Error, Result};
use crate::format::Manifest;
use std::collections::HashSet;
use std::path::Path;

/// Frames larger than this on a side are refused (a 16K frame is already 800 MB of RGB).
pub const MAX_SIDE: u32 = 16_384;

/// Checks the fields that sampling, allocation and slicing rely on; `path` names the manifest in errors.
pub fn check_manifest(m: &Manifest, path: &Path) -> Result<()> {
    let bad = |reason: String| Error::BadPack { path: path.into(), reason };
    let mut ids = HashSet::new();
    for (i, v) in m.videos.iter().enumerate() {
        let field =
            |name: &str, value: String| bad(format!("video {i} ('{}'): {name} = {value} is out of range", v.id));
        if !ids.insert(v.id.as_str()) {
            return Err(bad(format!("video id '{}' appears twice", v.id)));
        }
        if v.width == 0 || v.height == 0 || v.width > MAX_SIDE || v.height > MAX_SIDE {
            return Err(field("width x height", format!("{}x{}", v.width, v.height)));
        }
        if v.stride == 0 {
            return Err(field("stride", "0".into()));
        }
        if v.frames == 0 || v.frames != v.source_frames.div_ceil(v.stride) {
            let why = format!("{} (with source_frames {} and stride {})", v.frames, v.source_frames, v.stride);
            return Err(field("frames", why));
        }
        let counted = v.header_frames != 0; // 0: the container does not count its frames
        let over = v.header_frames > v.source_frames.saturating_mul(2).saturating_add(2);
        if counted && (v.header_frames < v.source_frames || over) {
            return Err(field(
                "header_frames",
                format!("{} (with source_frames {})", v.header_frames, v.source_frames),
            ));
        }
        if v.fps_num == 0 || v.fps_den == 0 {
            return Err(field("fps", format!("{}/{}", v.fps_num, v.fps_den)));
        }
        if !(v.ticks_per_frame.is_finite() && v.ticks_per_frame > 0.0) {
            return Err(field("ticks_per_frame", v.ticks_per_frame.to_string()));
        }
        if v.shard as usize >= m.shards.len() {
            return Err(field("shard", v.shard.to_string()));
        }
        if v.offset.checked_add(v.bytes).is_none() {
            return Err(field("offset + bytes", format!("{} + {}", v.offset, v.bytes)));
        }
    }
    for (name, items) in &m.lists {
        if let Some((vi, _)) = items.iter().find(|(vi, _)| *vi as usize >= m.videos.len()) {
            return Err(bad(format!("list '{name}' names video {vi}, but the pack has {}", m.videos.len())));
        }
    }
    Ok(())
}
