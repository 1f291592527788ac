//! A training run's folder as an evaluation input: its newest epoch checkpoint, and its saved config.toml for
//! the test settings (frames, sampling rate, views, crops, crop size), so that evaluation matches training.
use crate::error::{Error, Result};
use froster_model::layout;
use froster_train::config::Config;
use std::path::{Path, PathBuf};

/// Test settings; each is the flag's value, else the run's config, else the reference's default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestSettings {
    /// Frames per view (DATA.NUM_FRAMES; default 8).
    pub frames: usize,
    /// Frame stride (DATA.SAMPLING_RATE; default 16).
    pub sampling_rate: usize,
    /// Temporal views (TEST.NUM_ENSEMBLE_VIEWS; default 3).
    pub views: usize,
    /// Spatial crops (TEST.NUM_SPATIAL_CROPS; default 1).
    pub crops: usize,
    /// Crop size (DATA.TEST_CROP_SIZE; default: the model's input resolution).
    pub crop: Option<usize>,
}

/// Flags as given: None where the user did not say.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct TestFlags {
    /// Temporal views per video (NUM_ENSEMBLE_VIEWS) [default: the run's, else 3].
    #[arg(long)]
    pub views: Option<usize>,
    /// Spatial crops per view, 1 or 3 (NUM_SPATIAL_CROPS) [default: the run's, else 1].
    #[arg(long)]
    pub crops: Option<usize>,
    /// Frames per view (NUM_FRAMES) [default: the run's, else 8].
    #[arg(long)]
    pub frames: Option<usize>,
    /// Frames between sampled frames at 30 fps (SAMPLING_RATE) [default: the run's, else 16].
    #[arg(long)]
    pub sampling_rate: Option<usize>,
}

impl TestFlags {
    /// The settings: these flags over the run's config (if any) over the defaults; zero views, crops or frames
    /// are refused.
    pub fn resolve(&self, run: Option<&Config>) -> Result<TestSettings> {
        let s = TestSettings {
            frames: self.frames.or(run.map(|c| c.data.num_frames)).unwrap_or(8),
            sampling_rate: self.sampling_rate.or(run.map(|c| c.data.sampling_rate)).unwrap_or(16),
            views: self.views.or(run.map(|c| c.test.num_ensemble_views)).unwrap_or(3),
            crops: self.crops.or(run.map(|c| c.test.num_spatial_crops)).unwrap_or(1),
            crop: run.map(|c| c.data.test_crop_size),
        };
        if s.frames > 512 || s.views > 64 {
            return Err(Error::Argument(format!("--frames ({}) over 512 or --views ({}) over 64", s.frames, s.views)));
        }
        if s.frames == 0 || s.sampling_rate == 0 || s.views == 0 || !(s.crops == 1 || s.crops == 3) {
            return Err(Error::Argument(format!(
                "--frames, --sampling-rate and --views must be positive and --crops 1 or 3 (got {s:?})"
            )));
        }
        Ok(s)
    }
}

/// A `--checkpoint` argument: a checkpoint file, or a run folder (its newest epoch checkpoint). The run's
/// config.toml comes with it: the folder's, or the one two levels above a file in `<run>/checkpoints/`.
pub fn checkpoint_and_config(arg: &Path) -> Result<(PathBuf, Option<Config>)> {
    let (file, run) = if arg.is_dir() {
        (newest_epoch_checkpoint(arg)?, Some(arg.to_path_buf()))
    } else {
        (arg.to_path_buf(), arg.parent().and_then(Path::parent).map(Path::to_path_buf))
    };
    let config = match run.map(|r| r.join("config.toml")).filter(|c| c.is_file()) {
        Some(c) => Some(Config::read(&c)?),
        None => None,
    };
    Ok((file, config))
}

fn newest_epoch_checkpoint(run: &Path) -> Result<PathBuf> {
    let dir = layout::checkpoints_dir(run);
    let newest = std::fs::read_dir(&dir)
        .map_err(crate::error::io_err(&dir))?
        .flatten()
        .filter_map(|e| layout::epoch_of(&e.file_name().to_string_lossy()).map(|id| (id, e.path())))
        .max_by_key(|(id, _)| *id);
    newest.map(|(_, p)| p).ok_or(Error::NoCheckpoints(dir))
}
