//! Building the student and teacher from CLIP weights (and, when resuming or evaluating, FROSTER weights).
use froster_model::layout::{as_student, is_projector};
use froster_model::weights::{self, Weights};
use froster_model::{ClipConfig, Result, Student, Teacher};
use tch::{nn, Device};

/// Student weights for a VarStore: CLIP keys under `model.`, projector keys as they are. Keys that are neither
/// (the teacher's `raw_model.*` copy, metadata) are left out.
pub fn student_keys(clip: &Weights, projectors: Option<&Weights>) -> Weights {
    let mut w = as_student(clip);
    if let Some(p) = projectors {
        w.extend(p.iter().filter(|(k, _)| is_projector(k)).map(|(k, v)| (k.clone(), v.shallow_clone())));
    }
    w
}

/// A student initialised from CLIP weights; projectors from `projectors` or the reference's init.
pub fn student(
    cfg: &ClipConfig,
    frames: i64,
    clip: &Weights,
    projectors: Option<&Weights>,
    device: Device,
) -> Result<(nn::VarStore, Student)> {
    let vs = nn::VarStore::new(device);
    let s = Student::new(&vs.root(), cfg, frames);
    let mut w = student_keys(clip, projectors);
    if projectors.is_none() {
        // Keep the freshly initialised projectors.
        for (k, v) in vs.variables() {
            if is_projector(&k) {
                w.insert(k, v.detach().copy());
            }
        }
    }
    weights::apply(&vs, &w, "")?;
    Ok((vs, s))
}

/// The frozen teacher from CLIP weights.
pub fn teacher(cfg: &ClipConfig, clip: &Weights, device: Device) -> Result<Teacher> {
    let t = Teacher::new(cfg, device);
    weights::apply(&t.vs, clip, "")?;
    Ok(t)
}
