//! Validation during training (TRAIN.EVAL_PERIOD): the student scored on a pack list with the test views, as
//! `froster-eval` scores it.
use crate::config::Config;
use crate::dist::World;
use crate::error::Result;
use crate::eval::{eval_classifier, eval_step, test_loader, Ensemble};
use crate::feed::Feed;
use froster_loader::{ClipSource, Loader, PackSource, SamplingConfig};
use froster_model::{Clip, Tokenizer};
use std::sync::Arc;
use tch::Tensor;

/// One validation's outcome.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Validation {
    /// The pack list.
    pub list: String,
    /// Top-1 accuracy, percent.
    pub top1: f64,
    /// Top-5 accuracy, percent.
    pub top5: f64,
    /// Videos scored.
    pub videos: usize,
    /// Views skipped as unreadable.
    pub skipped: usize,
}

impl Validation {
    /// The outcome in words.
    pub fn line(&self, epoch: usize) -> String {
        let skipped = if self.skipped > 0 { format!(", {} views skipped", self.skipped) } else { String::new() };
        format!(
            "validation after epoch {}: {} top-1 {:.2} top-5 {:.2} ({} videos{skipped})",
            epoch + 1,
            self.list,
            self.top1,
            self.top5,
            self.videos
        )
    }
}

/// Scores every video of `source` with the config's test views (TEST.NUM_ENSEMBLE_VIEWS x
/// TEST.NUM_SPATIAL_CROPS, DATA.TEST_CROP_SIZE), summing view logits as the reference's test; with `prefetch`
/// the next views move to the device while the current ones are scored.
pub fn validate(
    clip: &Clip,
    classes: &[String],
    source: Arc<PackSource>,
    list: &str,
    cfg: &Config,
    world: &World,
    prefetch: bool,
) -> Result<Validation> {
    let device = clip.logit_scale.device();
    let (_, cls) = eval_classifier(clip, &Tokenizer::new(), classes, device)?;
    let sampling = SamplingConfig {
        num_frames: cfg.data.num_frames,
        sampling_rate: cfg.data.sampling_rate,
        target_fps: cfg.data.target_fps,
        num_views: cfg.test.num_ensemble_views,
        num_crops: cfg.test.num_spatial_crops,
        ..Default::default()
    };
    let mut lc = test_loader(sampling, cfg.data.test_crop_size, cfg.train.batch_size, cfg.data_loader.num_workers);
    lc.shard = world.shard();
    let videos = source.len();
    let mut feed = Feed::new(Loader::new(source, lc)?, device, prefetch, 1)?;
    let mut ens = Ensemble::default();
    for fed in feed.by_ref() {
        let fed = fed?;
        ens.add(&eval_step(clip, cfg.data.num_frames as i64, &fed.clips, &cls), &fed.videos, &fed.labels);
    }
    let ens = ens.gather(world, videos, classes.len())?;
    let skipped = Tensor::from_slice(&[feed.finish().len() as f64]);
    world.sum(&skipped)?;
    let (top1, top5) = ens.accuracy();
    let skipped = skipped.double_value(&[0]) as usize;
    Ok(Validation { list: list.into(), top1, top5, videos: ens.sums.len(), skipped })
}
