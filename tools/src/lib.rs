//! Shared pieces of the user-facing tools: loading a model for evaluation, patching, running views.
pub mod chart;
pub mod evaluate;

use anyhow::{Context, Result};
use froster_model::weights::{self, Weights};
use froster_model::{Clip, ClipConfig};
use std::path::Path;
use tch::{nn, Device};

/// CLIP keys of a checkpoint: ours (`model.*`), a FROSTER/Open-VCLIP .pth, OpenAI's .pt or plain safetensors.
pub fn clip_weights(path: &Path) -> Result<Weights> {
    let w = weights::load(path).with_context(|| format!("loading {}", path.display()))?;
    Ok(weights::student_view(&w)
        .into_iter()
        .filter(|(k, _)| !k.starts_with("projector_") && !k.starts_with("optim."))
        .collect())
}

/// R * original + (1 - R) * fine-tuned on every CLIP key both have (the projectors are not part of CLIP).
pub fn patch(original: &Weights, finetuned: &Weights, ratio: f64) -> Result<Weights> {
    if !(0.0..=1.0).contains(&ratio) {
        anyhow::bail!("patch ratio {ratio} is outside [0, 1]");
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
    let cfg = ClipConfig::from_weights(&w)?;
    let vs = nn::VarStore::new(device);
    let mut clip = Clip::new(&vs.root(), &cfg);
    weights::apply(&vs, &w, "").with_context(|| format!("{}: not a CLIP checkpoint", checkpoint.display()))?;
    // bf16 compute on GPUs, f32 on CPU.
    clip.set_compute(device.is_cuda().then_some(tch::Kind::BFloat16));
    Ok((vs, clip))
}

pub use froster_train::parse_device;
