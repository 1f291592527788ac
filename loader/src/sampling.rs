//! Temporal view sampling, as the reference's PySlowFast pyav decoder does it (golden case `sampling`).
//!
//! The reference decodes a pts window around the clip and resamples inside the decoded frames. Two of its quirks
//! are kept because the paper's numbers were measured with them: the window is 112 frames at 30 fps
//! (`NF - 1` gaps) while the resampling assumes 128 (`NF`), so the last index is clamped; and the window start
//! is rounded in container ticks (`int(start * ticks_per_frame)`).
//! One is not kept: the reference takes frames in decode order and ignores a non-zero first pts (AVI); frames
//! here are always in presentation order, counted from the first.
//!
//! The window is cut by timestamps, as the reference's: with each frame's pts known ([`StreamInfo::pts`], from
//! packs and from a video's first decode) a variable-frame-rate stream keeps the frames its timestamps put in the
//! window; without, pts are assumed evenly spaced (`round(i * ticks_per_frame)`).
use serde::{Deserialize, Serialize};

/// The reference's temporal sampling settings (DATA.NUM_FRAMES, DATA.SAMPLING_RATE, ...).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct SamplingConfig {
    /// Frames per clip (DATA.NUM_FRAMES).
    pub num_frames: usize,
    /// Frames between two sampled frames at the target rate (DATA.SAMPLING_RATE).
    pub sampling_rate: usize,
    /// The frame rate the window is measured at (DATA.TARGET_FPS).
    pub target_fps: f64,
    /// NUM_ENSEMBLE_VIEWS: temporal views at test time.
    pub num_views: usize,
    /// NUM_SPATIAL_CROPS: 1 = centre, 3 = left/centre/right (or top/centre/bottom).
    pub num_crops: usize,
    /// Offset test views by half a step, as the reference's USE_OFFSET_SAMPLING.
    pub use_offset: bool,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        SamplingConfig {
            num_frames: 8,
            sampling_rate: 16,
            target_fps: 30.0,
            num_views: 3,
            num_crops: 1,
            use_offset: true,
        }
    }
}

/// What the sampler needs to know of a stream.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamInfo {
    /// Frames in the stream as its header counts them (the reference's `stream.frames`; more than decode when the
    /// header over-counts).
    pub frames: usize,
    /// Its frame rate.
    pub fps: f64,
    /// Container ticks per frame (stream duration / frames).
    pub ticks_per_frame: f64,
    /// Each decodable frame's presentation timestamp in container ticks, in presentation order; None: evenly
    /// spaced over `frames`.
    pub pts: Option<std::sync::Arc<[i64]>>,
    /// Whether the container's header counts the frames (MP4, AVI). Without a count (Matroska, WebM) the
    /// reference decodes the whole video and samples over the frames it got ([`sample_decode_all`]).
    pub uncounted: bool,
}

/// Where the window starts: a test view, or a training draw `u` in [0, 1) standing for `uniform(0, delta)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Start {
    /// Test view `i` of NUM_ENSEMBLE_VIEWS.
    View(usize),
    /// A training draw.
    Train(f64),
}

/// A sampled window: its bounds and the frames to take.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Window start, in source frames.
    pub start_idx: f64,
    /// Window end, in source frames.
    pub end_idx: f64,
    /// First and last decoded frame (inclusive), absolute.
    pub decoded: (usize, usize),
    /// The NUM_FRAMES absolute frame indices.
    pub indices: Vec<usize>,
}

/// PySlowFast's `get_start_end_idx`; returns (start, end, position).
pub fn get_start_end_idx(
    video_size: f64,
    clip_size: f64,
    clip: Start,
    num_clips: usize,
    use_offset: bool,
) -> (f64, f64, f64) {
    let delta = (video_size - clip_size).max(0.0);
    let start = match clip {
        Start::Train(u) => u * delta,
        Start::View(i) if use_offset => {
            if num_clips == 1 {
                (delta / 2.0).floor()
            } else {
                i as f64 * (delta / (num_clips - 1) as f64).floor()
            }
        }
        Start::View(i) => delta * i as f64 / num_clips as f64,
    };
    let position = if delta != 0.0 { start / delta } else { 0.0 };
    (start, start + clip_size - 1.0, position)
}

/// torch.linspace in float32 (its symmetric two-sided formula).
pub fn linspace_f32(start: f64, end: f64, steps: usize) -> Vec<f32> {
    let (s, e) = (start as f32, end as f32);
    if steps == 1 {
        return vec![s];
    }
    let step = (e - s) / (steps - 1) as f32;
    let half = steps / 2;
    (0..steps).map(|i| if i < half { s + step * i as f32 } else { e - step * (steps - i - 1) as f32 }).collect()
}

/// PySlowFast's `temporal_sampling` indices: linspace, clamp to the available frames, truncate.
pub fn temporal_indices(start: f64, end: f64, available: usize, num_samples: usize) -> Vec<usize> {
    let max = available.saturating_sub(1) as f32;
    linspace_f32(start, end, num_samples).into_iter().map(|x| x.clamp(0.0, max) as usize).collect()
}

/// The reference's selective decode (the stream has a duration): the normal path.
pub fn sample(stream: &StreamInfo, cfg: &SamplingConfig, start: Start) -> Window {
    if stream.uncounted {
        let n = stream.pts.as_ref().map(|p| p.len()).unwrap_or(stream.frames);
        return sample_decode_all(n, stream.fps, cfg, start, cfg.use_offset);
    }
    let n = stream.frames.max(1);
    let (sr, nf) = (cfg.sampling_rate as f64, cfg.num_frames as f64);
    let clip_size = (sr * (nf - 1.0) / cfg.target_fps * stream.fps).ceil().max(1.0);
    // The reference does not forward use_offset on this path.
    let (start_idx, end_idx, _) = get_start_end_idx(n as f64, clip_size, start, cfg.num_views, false);
    let tpf = stream.ticks_per_frame;
    let start_pts = (start_idx * tpf).floor() as i64;
    let end_pts = (end_idx * tpf).floor() as i64;
    let (first, last) = match &stream.pts {
        Some(p) if !p.is_empty() => kept_range(p.len(), |i| p[i], start_pts, end_pts),
        _ => kept_range(n, |i| (i as f64 * tpf).round() as i64, start_pts, end_pts),
    };
    let n_dec = last - first + 1;
    let clip2 = (sr * nf / cfg.target_fps * stream.fps).max(1.0);
    let (s2, e2, _) = get_start_end_idx(n_dec as f64, clip2, Start::View(0), 1, cfg.use_offset);
    let indices = temporal_indices(s2, e2, n_dec, cfg.num_frames).into_iter().map(|i| first + i).collect();
    Window { start_idx, end_idx, decoded: (first, last), indices }
}

/// The frames pyav_decode_stream keeps of `m` with timestamps `pts(i)`: from the first at or after `start_pts` to
/// the last at or before `end_pts`, plus the first one past it.
fn kept_range(m: usize, pts: impl Fn(usize) -> i64, start_pts: i64, end_pts: i64) -> (usize, usize) {
    let first = (0..m).find(|&i| pts(i) >= start_pts).unwrap_or(m - 1);
    let mut last = (first..m).take_while(|&i| pts(i) <= end_pts).last().unwrap_or(first);
    if last + 1 < m && pts(last) <= end_pts {
        last += 1;
    }
    (first, last)
}

/// The reference's decode-all path (the stream has no duration): the whole video is decoded.
pub fn sample_decode_all(frames: usize, fps: f64, cfg: &SamplingConfig, start: Start, use_offset: bool) -> Window {
    let n = frames.max(1);
    let clip_size = (cfg.sampling_rate as f64 * cfg.num_frames as f64 / cfg.target_fps * fps).max(1.0);
    let (s, e, _) = get_start_end_idx(n as f64, clip_size, start, cfg.num_views, use_offset);
    let indices = temporal_indices(s, e, n, cfg.num_frames);
    Window { start_idx: s, end_idx: e, decoded: (0, n - 1), indices }
}

/// Maps a source frame index to the nearest frame stored with `--keep-every stride` (of `stored` frames).
pub fn nearest_stored(source_idx: usize, stride: usize, stored: usize) -> usize {
    let stride = stride.max(1);
    ((source_idx + stride / 2) / stride).min(stored.saturating_sub(1))
}
