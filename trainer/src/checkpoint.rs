//! Checkpoints, written atomically (temporary name, then rename):
//! - `checkpoints/teacher.safetensors`: the frozen CLIP (also the raw CLIP for averaging and patching);
//! - `checkpoints/checkpoint_epoch_NNNNN.safetensors`: the model state of each epoch (`model.*`, `projector_*`),
//!   the keys of the reference's `model_state`;
//! - `checkpoints/resume/step_NNNNNNNN.safetensors` + `checkpoints/resume/latest.json`: weights, AdamW state and
//!   the position (epoch, batch, step), for exact resume. `latest.json` is renamed into place last.
use froster_model::weights::{self, Weights};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Position {
    /// Epoch in progress.
    pub epoch: usize,
    /// Optimizer steps done in that epoch.
    pub iter: usize,
    /// Optimizer steps done in all.
    pub step: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Latest {
    pub position: Position,
    pub file: String,
    pub adam_step: i64,
}

pub fn dir(out: &Path) -> PathBuf {
    out.join("checkpoints")
}

pub fn epoch_file(out: &Path, epoch: usize) -> PathBuf {
    dir(out).join(format!("checkpoint_epoch_{epoch:05}.safetensors"))
}

pub fn teacher_file(out: &Path) -> PathBuf {
    dir(out).join("teacher.safetensors")
}

/// Saves safetensors through a temporary file and a rename.
pub fn save_atomic(path: &Path, w: &Weights) -> anyhow::Result<()> {
    std::fs::create_dir_all(path.parent().unwrap())?;
    let tmp = path.with_extension("tmp.safetensors");
    weights::save(&tmp, w)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Writes a resume point: weights and optimizer state in one file, then `latest.json`.
pub fn save_resume(out: &Path, state: &Weights, position: Position, adam_step: i64) -> anyhow::Result<()> {
    let rdir = dir(out).join("resume");
    let file = format!("step_{:08}.safetensors", position.step);
    save_atomic(&rdir.join(&file), state)?;
    let latest = Latest { position, file: file.clone(), adam_step };
    let tmp = rdir.join("latest.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&latest)?)?;
    std::fs::rename(&tmp, rdir.join("latest.json"))?;
    // Older resume points are no longer needed.
    for e in std::fs::read_dir(&rdir)? {
        let p = e?.path();
        let name = p.file_name().unwrap_or_default().to_string_lossy().to_string();
        if name.starts_with("step_") && name != file {
            let _ = std::fs::remove_file(p);
        }
    }
    Ok(())
}

pub fn load_resume(out: &Path) -> anyhow::Result<Option<(Latest, Weights)>> {
    let rdir = dir(out).join("resume");
    let Ok(text) = std::fs::read_to_string(rdir.join("latest.json")) else {
        return Ok(None);
    };
    let latest: Latest = serde_json::from_str(&text)?;
    let w = weights::load(&rdir.join(&latest.file))?;
    Ok(Some((latest, w)))
}
