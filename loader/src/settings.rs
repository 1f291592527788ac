//! What a loader is asked for ([`LoaderConfig`]) and what it hands out ([`Batch`]).
use crate::dist::Shard;
use crate::sampling::SamplingConfig;

/// CLIP's per-channel RGB mean (0..1 scale).
pub const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
/// CLIP's per-channel RGB standard deviation (0..1 scale).
pub const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_6, 0.275_777_1];

/// Training clips or test views.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Random window, short side in [min_scale, max_scale], random crop, flip.
    Train {
        /// Smallest short side of the jitter.
        min_scale: usize,
        /// Largest short side of the jitter.
        max_scale: usize,
    },
    /// NUM_ENSEMBLE_VIEWS x NUM_SPATIAL_CROPS views per video, short side `scale`.
    Test {
        /// The short side before the crops.
        scale: usize,
    },
}

/// The batch layout and type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Output {
    /// uint8 (B, T, H, W, C): normalise on the GPU.
    U8Thwc,
    /// f32 (B, C, T, H, W), CLIP mean/std normalised.
    F32Cthw,
}

/// What a loader produces and how: the reference's DATA settings plus threading.
#[derive(Debug, Clone)]
pub struct LoaderConfig {
    /// Clips per batch.
    pub batch_size: usize,
    /// Decode and augmentation threads.
    pub workers: usize,
    /// Clips in flight per worker (bounds memory).
    pub prefetch: usize,
    /// The run's seed: every random draw is keyed by (seed, epoch, clip).
    pub seed: u64,
    /// The epoch (each one shuffles anew).
    pub epoch: u64,
    /// Training clips or test views.
    pub mode: Mode,
    /// Output frame size in pixels (square).
    pub crop: usize,
    /// Temporal sampling (frames, stride, target fps).
    pub sampling: SamplingConfig,
    /// Batch layout and type.
    pub output: Output,
    /// Shuffle the list each epoch (training only).
    pub shuffle: bool,
    /// Drop the last partial batch and the shard tail (training only).
    pub drop_last: bool,
    /// This process's share of the list.
    pub shard: Shard,
    /// Stop at the first bad clip instead of logging and skipping it.
    pub strict: bool,
    /// Start after this many clips of the epoch (exact resume mid-epoch).
    pub skip: usize,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        LoaderConfig {
            batch_size: 8,
            workers: 2,
            prefetch: 2,
            seed: 0,
            epoch: 0,
            mode: Mode::Train { min_scale: 224, max_scale: 256 },
            crop: 224,
            sampling: SamplingConfig::default(),
            output: Output::U8Thwc,
            shuffle: true,
            drop_last: false,
            shard: Shard::default(),
            strict: false,
            skip: 0,
        }
    }
}

/// One batch. `u8` or `f32` is filled according to `Output`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// The clips as uint8, with [`Output::U8Thwc`].
    pub u8: Vec<u8>,
    /// The clips as normalised f32, with [`Output::F32Cthw`].
    pub f32: Vec<f32>,
    /// (B, T, H, W, C) for u8, (B, C, T, H, W) for f32.
    pub shape: [usize; 5],
    /// Each clip's label.
    pub labels: Vec<i64>,
    /// Index of each clip's video in the source.
    pub videos: Vec<usize>,
    /// (temporal view, spatial crop) of each clip; (0, 0) in training.
    pub views: Vec<(usize, usize)>,
}
