//! A run's checkpoints, written atomically (temporary name, then rename), with the file names of
//! [`froster_model::layout`]:
//! - `checkpoints/teacher.safetensors`: the frozen CLIP (also the raw CLIP for averaging and patching);
//! - `checkpoints/checkpoint_epoch_NNNNN.safetensors`: the model state after each epoch (`model.*`,
//!   `projector_*`), the keys of the reference's `model_state`;
//! - `checkpoints/resume/step_NNNNNNNN.safetensors` + `latest.json`: weights, AdamW state and the position
//!   (epoch, iteration, step), for exact resume. `latest.json` is renamed into place last.
use crate::error::{io_err, Error, Result};
use froster_model::layout;
use froster_model::weights::{self, Weights};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Where a run stands.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Position {
    /// Epoch in progress.
    pub epoch: usize,
    /// Optimizer steps done in that epoch.
    pub iter: usize,
    /// Optimizer steps done in all.
    pub step: usize,
}

/// `latest.json`: the newest resume point.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Latest {
    /// Where the run stood.
    pub position: Position,
    /// The resume point's file name in the resume folder.
    pub file: String,
    /// AdamW updates taken.
    pub adam_step: i64,
    /// CRC-32 of the resume file's bytes: a flipped bit would otherwise resume silently into other weights
    /// (absent in runs written before it existed, which resume unchecked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32: Option<u32>,
}

fn file_crc(path: &Path) -> Result<u32> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    Ok(crc32fast::hash(&bytes))
}

/// Saves safetensors through a temporary file and a rename.
pub fn save_atomic(path: &Path, w: &Weights) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    let tmp = path.with_extension("tmp.safetensors");
    weights::save(&tmp, w)?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

/// Writes a resume point: weights and optimizer state in one file, then `latest.json`; older points go.
pub fn save_resume(run: &Path, state: &Weights, position: Position, adam_step: i64) -> Result<()> {
    let dir = layout::resume_dir(run);
    let file = layout::resume_file_name(position.step);
    save_atomic(&dir.join(&file), state)?;
    let crc32 = Some(file_crc(&dir.join(&file))?);
    let latest = Latest { position, file: file.clone(), adam_step, crc32 };
    let path = layout::latest_file(run);
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_vec_pretty(&latest).map_err(|source| Error::Json { path: path.clone(), source })?;
    std::fs::write(&tmp, text).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
    for e in std::fs::read_dir(&dir).map_err(io_err(&dir))?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if layout::is_resume_file(&name) && name != file {
            let _ = std::fs::remove_file(e.path());
        }
    }
    Ok(())
}

/// The newest resume point of a run, if it has one.
pub fn load_resume(run: &Path) -> Result<Option<(Latest, Weights)>> {
    let path = layout::latest_file(run);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let latest: Latest = serde_json::from_str(&text).map_err(|source| Error::Json { path: path.clone(), source })?;
    let file = layout::resume_dir(run).join(&latest.file);
    if let Some(want) = latest.crc32 {
        let got = file_crc(&file)?;
        if got != want {
            let reason = format!(
                "checksum {got:08x} differs from {want:08x} recorded in latest.json: the file changed after it was \
                 written; resume from an epoch checkpoint or start afresh with --overwrite"
            );
            return Err(Error::Resume { path: file, reason });
        }
    }
    let w = weights::load(&file)?;
    Ok(Some((latest, w)))
}
