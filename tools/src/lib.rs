//! The user-facing tools' library: loading a model for evaluation, patching, multi-view evaluation, weight
//! averaging, a run's evaluation defaults, and the benchmarks.
pub mod average;
pub mod bench;
pub mod chart;
mod error;
pub mod evaluate;
pub mod plot;
pub mod run;
pub mod table;

pub use error::{Error, Result};

use froster_model::layout::clip_only;
use froster_model::weights::{self, Weights};
use froster_model::{Clip, ClipConfig};
use std::path::Path;
use tch::{nn, Device};

/// CLIP keys of a checkpoint: ours (`model.*`), a FROSTER/Open-VCLIP .pth, OpenAI's .pt or plain safetensors.
pub fn clip_weights(path: &Path) -> Result<Weights> {
    Ok(clip_only(&weights::load(path)?))
}

/// R * original + (1 - R) * fine-tuned on every CLIP key both have (the projectors are not part of CLIP).
pub fn patch(original: &Weights, finetuned: &Weights, ratio: f64) -> Result<Weights> {
    if !(0.0..=1.0).contains(&ratio) {
        return Err(Error::Argument(format!("patch ratio {ratio} is outside [0, 1]")));
    }
    if !finetuned.keys().any(|k| original.get(k).is_some_and(|o| o.size() == finetuned[k].size())) {
        return Err(Error::Argument(
            "the checkpoint and the original CLIP share no tensor: not a CLIP to patch".into(),
        ));
    }
    let mut out = Weights::new();
    for (k, f) in finetuned {
        let v = match original.get(k) {
            Some(o) if o.size() == f.size() && f.is_floating_point() => {
                o.to_kind(tch::Kind::Float) * ratio + f.to_kind(tch::Kind::Float) * (1.0 - ratio)
            }
            _ => f.shallow_clone(),
        };
        out.insert(k.clone(), v);
    }
    Ok(out)
}

/// The model used at test time: CLIP with the student's temporal attention, from a checkpoint
/// (optionally patched towards an original CLIP).
pub fn eval_model(checkpoint: &Path, patch_with: Option<(&Path, f64)>, device: Device) -> Result<(nn::VarStore, Clip)> {
    let mut w = clip_weights(checkpoint)?;
    if let Some((orig, r)) = patch_with {
        w = patch(&clip_weights(orig)?, &w, r)?;
    }
    let not_clip = |source| Error::NotAClip { path: checkpoint.into(), source };
    let cfg = ClipConfig::from_weights(&w).map_err(not_clip)?;
    let vs = nn::VarStore::new(device);
    let mut clip = Clip::new(&vs.root(), &cfg);
    weights::apply(&vs, &w, "").map_err(not_clip)?;
    // bf16 compute and the fused activation on GPUs, f32 and eager ops on CPU.
    clip.set_compute(device.is_cuda().then_some(tch::Kind::BFloat16));
    clip.set_ops(froster_train::step::ops(device.is_cuda()));
    Ok((vs, clip))
}

/// A progress bar of `unit`s (hidden when not wanted).
pub fn progress(show: bool, total: u64, unit: &str) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    let style = indicatif::ProgressStyle::with_template(&format!("{{bar:30}} {{pos}}/{{len}} {unit}  ETA {{eta}}"));
    bar.set_style(style.unwrap_or(indicatif::ProgressStyle::default_bar()));
    bar
}
