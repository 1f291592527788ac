//! The checkpoint layout, in one place: the key prefixes of a FROSTER checkpoint (the reference's
//! `model_state`), and the file names of a run's `checkpoints/` folder. Everything that composes or splits keys
//! or names checkpoint files calls this module.
use crate::weights::Weights;
use std::path::{Path, PathBuf};

/// The student CLIP's keys: `model.<OpenAI key>`.
pub const STUDENT: &str = "model.";
/// The teacher copy the reference keeps in its checkpoints: `raw_model.<OpenAI key>`.
pub const TEACHER: &str = "raw_model.";
/// The residual projectors: `projector_v.*` (visual) and `projector_t.*` (text).
pub const PROJECTOR: &str = "projector_";
/// AdamW state in a resume point: `optim.<variable>.{exp_avg,exp_avg_sq}`.
pub const OPTIM: &str = "optim.";
/// OpenAI checkpoints carry these scalars beside the tensors; they are metadata, not weights.
pub const METADATA: [&str; 3] = ["input_resolution", "context_length", "vocab_size"];

/// The student's key of an OpenAI CLIP key.
pub fn student_key(clip_key: &str) -> String {
    format!("{STUDENT}{clip_key}")
}

/// Whether a key is one of the projectors'.
pub fn is_projector(key: &str) -> bool {
    key.starts_with(PROJECTOR)
}

/// The AdamW state key of a variable's state entry.
pub fn optim_key(name: &str) -> String {
    format!("{OPTIM}{name}")
}

/// The AdamW state entries of a resume point, without their prefix.
pub fn optim_state(w: &Weights) -> Weights {
    w.iter().filter_map(|(k, v)| k.strip_prefix(OPTIM).map(|s| (s.to_string(), v.shallow_clone()))).collect()
}

/// OpenAI CLIP keys as the student's (`model.` prefixed).
pub fn as_student(clip: &Weights) -> Weights {
    clip.iter().map(|(k, v)| (student_key(k), v.shallow_clone())).collect()
}

/// The student's CLIP weights of a FROSTER/Open-VCLIP checkpoint (`model.` prefix dropped, teacher `raw_model.`
/// dropped), or the map itself when it is a plain CLIP state dict. Projector and optimizer keys are kept.
pub fn student_view(w: &Weights) -> Weights {
    let prefixed = w.keys().any(|k| k.starts_with(STUDENT));
    w.iter()
        .filter(|(k, _)| !k.starts_with(TEACHER))
        .map(|(k, v)| {
            let key = if prefixed { k.strip_prefix(STUDENT).unwrap_or(k) } else { k };
            (key.to_string(), v.shallow_clone())
        })
        .collect()
}

/// Only the CLIP keys of any checkpoint: [`student_view`] without projectors and optimizer state.
pub fn clip_only(w: &Weights) -> Weights {
    student_view(w).into_iter().filter(|(k, _)| !is_projector(k) && !k.starts_with(OPTIM)).collect()
}

/// The folder of a run's checkpoints.
pub fn checkpoints_dir(run: &Path) -> PathBuf {
    run.join("checkpoints")
}

/// The frozen teacher CLIP's file name in a checkpoints folder (also the raw CLIP for averaging and patching).
pub const TEACHER_FILE: &str = "teacher.safetensors";

/// The frozen teacher CLIP of a run.
pub fn teacher_file(run: &Path) -> PathBuf {
    checkpoints_dir(run).join(TEACHER_FILE)
}

/// The model state of a run after `epoch` epochs.
pub fn epoch_file(run: &Path, epoch: usize) -> PathBuf {
    checkpoints_dir(run).join(format!("{EPOCH_FILE_PREFIX}{epoch:05}.safetensors"))
}

const EPOCH_FILE_PREFIX: &str = "checkpoint_epoch_";

/// The epoch of a per-epoch checkpoint file name (`checkpoint_epoch_00003.safetensors` -> 3).
pub fn epoch_of(file_name: &str) -> Option<i64> {
    file_name.strip_prefix(EPOCH_FILE_PREFIX).and_then(|_| checkpoint_id(file_name))
}

/// The reference's checkpoint id of a file name: the number after the last `_` of the part before the first `.`
/// (as its weight_average_tool reads `checkpoint_epoch_00003.pyth`).
pub fn checkpoint_id(file_name: &str) -> Option<i64> {
    file_name.split('.').next()?.rsplit('_').next()?.parse().ok()
}

/// The folder of a run's resume points.
pub fn resume_dir(run: &Path) -> PathBuf {
    checkpoints_dir(run).join("resume")
}

/// The resume point written after optimizer step `step`.
pub fn resume_file_name(step: usize) -> String {
    format!("{RESUME_FILE_PREFIX}{step:08}.safetensors")
}

const RESUME_FILE_PREFIX: &str = "step_";

/// Whether a file name is a resume point's.
pub fn is_resume_file(file_name: &str) -> bool {
    file_name.starts_with(RESUME_FILE_PREFIX) && file_name.ends_with(".safetensors")
}

/// The file naming the newest resume point, renamed into place last.
pub fn latest_file(run: &Path) -> PathBuf {
    resume_dir(run).join("latest.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip() {
        let f = epoch_file(Path::new("run"), 7);
        let name = f.file_name().unwrap().to_str().unwrap();
        assert_eq!(epoch_of(name), Some(7));
        assert_eq!(epoch_of("teacher.safetensors"), None);
        assert_eq!(checkpoint_id("checkpoint_epoch_00012.pyth"), Some(12));
        assert!(is_resume_file(&resume_file_name(42)));
    }
}
