//! Where clips come from: packs, or (feature `video`) videos decoded through GStreamer.
use crate::error::Result;
use crate::reader::PackReader;
use crate::sampling::{nearest_stored, StreamInfo};
use std::sync::Arc;

/// Size and pixel format of the frames a source hands out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layout {
    /// Frame width in pixels.
    pub width: usize,
    /// Frame height in pixels.
    pub height: usize,
    /// Pixel format.
    pub pixel: crate::format::PixelFormat,
}

/// Worker-local buffers and decoders, reused from clip to clip.
pub struct Scratch {
    /// The zstd decompressor.
    pub zstd: zstd::bulk::Decompressor<'static>,
    /// A stored frame's decompressed bytes.
    pub stored: Vec<u8>,
    /// The clip's frames, in the source's layout.
    pub frames: Vec<Vec<u8>>,
    /// Buffers of the resize.
    pub resize: crate::augment::ResizeScratch,
}

impl Scratch {
    /// Empty buffers.
    pub fn new() -> Self {
        Scratch {
            zstd: zstd::bulk::Decompressor::new().expect("zstd context"),
            stored: Vec::new(),
            frames: Vec::new(),
            resize: Default::default(),
        }
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

/// A labelled set of videos that can hand out RGB frames by source frame index.
pub trait ClipSource: Send + Sync {
    /// Videos in the source.
    fn len(&self) -> usize;
    /// Whether it has no video.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The id (path) of video `i`.
    fn id(&self, i: usize) -> &str;
    /// The label of video `i`.
    fn label(&self, i: usize) -> i64;
    /// Stream facts in source frames, for the sampler.
    fn stream(&self, i: usize) -> Result<StreamInfo>;
    /// Decodes the frames at `indices` (source frame numbers, presentation order) into `scratch.frames[k]`, in
    /// the returned layout (RGB24 or I420, tightly packed).
    fn read(&self, i: usize, indices: &[usize], scratch: &mut Scratch) -> Result<Layout>;
}

/// Clips from a pack, restricted to one of its lists.
pub struct PackSource {
    reader: Arc<PackReader>,
    items: Vec<(u32, i64)>,
    /// Check each frame's crc32 as it is read.
    pub verify: bool,
}

impl PackSource {
    /// The videos of list `list` of the pack.
    pub fn new(reader: Arc<PackReader>, list: &str) -> Result<Self> {
        let items = reader.list(list)?.to_vec();
        Ok(PackSource { reader, items, verify: true })
    }
    /// Clips of explicit (video index, label) pairs.
    pub fn with_items(reader: Arc<PackReader>, items: Vec<(u32, i64)>) -> Self {
        PackSource { reader, items, verify: true }
    }
    /// The pack.
    pub fn reader(&self) -> &PackReader {
        &self.reader
    }
}

impl ClipSource for PackSource {
    fn len(&self) -> usize {
        self.items.len()
    }
    fn id(&self, i: usize) -> &str {
        &self.reader.video(self.items[i].0 as usize).id
    }
    fn label(&self, i: usize) -> i64 {
        self.items[i].1
    }
    fn stream(&self, i: usize) -> Result<StreamInfo> {
        let vi = self.items[i].0 as usize;
        let v = self.reader.video(vi);
        let pts = Some(self.reader.pts(vi).into());
        let (frames, uncounted) = match v.header_frames {
            0 => (v.source_frames as usize, true),
            n => (n as usize, false),
        };
        Ok(StreamInfo { frames, fps: v.fps(), ticks_per_frame: v.ticks_per_frame, pts, uncounted })
    }
    fn read(&self, i: usize, indices: &[usize], s: &mut Scratch) -> Result<Layout> {
        let vi = self.items[i].0 as usize;
        let v = self.reader.video(vi);
        s.frames.resize_with(indices.len(), Vec::new);
        for (k, &src) in indices.iter().enumerate() {
            let stored = nearest_stored(src, v.stride as usize, v.frames as usize);
            // Reuse the previous frame when two indices map to the same stored frame (clamped ends).
            if k > 0 && nearest_stored(indices[k - 1], v.stride as usize, v.frames as usize) == stored {
                let (a, b) = s.frames.split_at_mut(k);
                b[0].clone_from(&a[k - 1]);
                continue;
            }
            // Stored pixels as they are: I420 is converted only at the output pixels, by the augmentation.
            self.reader.read_frame(vi, stored, self.verify, &mut s.zstd, &mut s.frames[k])?;
        }
        Ok(Layout { width: v.width as usize, height: v.height as usize, pixel: self.reader.manifest().pixel })
    }
}

#[cfg(feature = "video")]
pub use video::VideoSource;

#[cfg(feature = "video")]
mod video {
    use super::*;
    use crate::decode::{decode_timed, DecodeOptions};
    use crate::error::Error;
    use crate::format::PixelFormat;
    use std::path::PathBuf;
    use std::sync::OnceLock;

    /// Clips decoded straight from video files: each read seeks to just before the window and decodes only it.
    pub struct VideoSource {
        root: PathBuf,
        items: Vec<(String, i64)>,
        /// Per video: stream facts, whether seeking is exact, and every frame's stream time (one decode, once).
        info: Vec<OnceLock<std::result::Result<Probed, String>>>,
        /// Short side to decode at (0 = native, the default: the augmentation resizes anyway).
        pub short_side: u32,
    }

    impl VideoSource {
        /// Videos at `root`/path with their labels, decoded through GStreamer.
        pub fn new(root: impl Into<PathBuf>, items: Vec<(String, i64)>) -> Self {
            let info = items.iter().map(|_| OnceLock::new()).collect();
            VideoSource { root: root.into(), items, info, short_side: 0 }
        }
        fn path(&self, i: usize) -> PathBuf {
            self.root.join(&self.items[i].0)
        }
        fn opts(&self) -> DecodeOptions {
            DecodeOptions { short_side: self.short_side, pixel: PixelFormat::I420, ..Default::default() }
        }

        /// Stream facts as a pack would store them: one decode of the whole video (no pixels copied) gives every
        /// frame's timestamp, so that sampling cuts the window by timestamps, as the reference does.
        fn probe(&self, i: usize) -> Result<Probed> {
            let path = self.path(i);
            let got = self.info[i].get_or_init(|| {
                let c = crate::container::probe(&path);
                let keep_none = Some(&(|_| false) as &dyn Fn(usize) -> bool);
                let (all, times) =
                    decode_timed(&path, &self.opts(), None, keep_none, None, |_, _, _, _| Ok(())).map_err(reason_of)?;
                let decoder_fps = if all.fps_num > 0 { (all.fps_num, all.fps_den.max(1)) } else { (30, 1) };
                let decoded = (all.frames as usize).min(c.frames.map(|n| n as usize).unwrap_or(usize::MAX));
                let frames = c.frames.map(|n| n as usize).unwrap_or(decoded).max(decoded);
                let pts = c.pts_ticks(&times, decoded, decoder_fps.0 as f64 / decoder_fps.1 as f64);
                let t = c.timing(pts.len(), decoder_fps);
                let fps = t.fps.0 as f64 / t.fps.1 as f64;
                let (tpf, pts, uncounted) = (t.ticks_per_frame, Some(pts.into()), c.frames.is_none());
                let stream = StreamInfo { frames, fps, ticks_per_frame: tpf, pts, uncounted };
                Ok(Probed { stream, seekable: c.seekable, times: times.into() })
            });
            got.clone().map_err(|reason| Error::Decode { path, reason })
        }
    }

    /// What [`VideoSource`] learns of a video once.
    #[derive(Clone)]
    struct Probed {
        stream: StreamInfo,
        seekable: bool,
        times: Arc<[u64]>,
    }

    /// The reason alone: the error is wrapped again with the path.
    fn reason_of(e: Error) -> String {
        match e {
            Error::Decode { reason, .. } => reason,
            other => other.to_string(),
        }
    }

    impl ClipSource for VideoSource {
        fn len(&self) -> usize {
            self.items.len()
        }
        fn id(&self, i: usize) -> &str {
            &self.items[i].0
        }
        fn label(&self, i: usize) -> i64 {
            self.items[i].1
        }
        fn stream(&self, i: usize) -> Result<StreamInfo> {
            self.probe(i).map(|p| p.stream)
        }
        fn read(&self, i: usize, indices: &[usize], s: &mut Scratch) -> Result<Layout> {
            let (lo, hi) = (*indices.iter().min().unwrap_or(&0), *indices.iter().max().unwrap_or(&0));
            let mut size = (0, 0);
            s.frames.resize_with(indices.len(), Vec::new);
            let mut filled = vec![false; indices.len()];
            let wanted = |idx: usize| indices.contains(&idx);
            let probed = self.probe(i)?;
            let opts = DecodeOptions { seek: probed.seekable, ..self.opts() };
            let times = Some(&probed.times[..]);
            decode_timed(&self.path(i), &opts, Some((lo, hi)), Some(&wanted), times, |idx, px, w, h| {
                size = (w as usize, h as usize);
                for (k, _) in indices.iter().enumerate().filter(|(_, &want)| want == idx) {
                    s.frames[k].clear();
                    s.frames[k].extend_from_slice(px);
                    filled[k] = true;
                }
                Ok(())
            })?;
            // Indices past the real end (a container count larger than the decodable frames) repeat the last
            // frame decoded before them; the indices are non-decreasing.
            for k in 0..indices.len() {
                if !filled[k] {
                    let prev = (0..k).rev().find(|&j| filled[j]);
                    let prev = prev
                        .ok_or_else(|| Error::Decode { path: self.path(i), reason: "no frame in the window".into() })?;
                    let (a, b) = s.frames.split_at_mut(k);
                    b[0].clone_from(&a[prev]);
                    filled[k] = true;
                }
            }
            Ok(Layout { width: size.0, height: size.1, pixel: PixelFormat::I420 })
        }
    }
}
