//! Weight averaging of epoch checkpoints, as the reference's weight_average_tool.
use crate::error::{io_err, Error, Result};
use froster_model::layout::{self, student_key, METADATA};
use froster_model::weights::{self, Weights};
use std::path::Path;
use tch::{Kind, Tensor};

/// The epoch checkpoints of a checkpoints folder, by id, ascending.
pub fn epoch_checkpoints(dir: &Path) -> Result<Vec<(i64, Weights)>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let p = e.map_err(io_err(dir))?.path();
        let name = p.file_name().unwrap_or_default().to_string_lossy().into_owned();
        if let Some(id) = layout::epoch_of(&name) {
            out.push((id, weights::load(&p)?));
        }
    }
    if out.is_empty() {
        return Err(Error::NoCheckpoints(dir.into()));
    }
    out.sort_by_key(|(id, _)| *id);
    Ok(out)
}

/// Averages the checkpoints whose ids lie in [start, end] (the raw CLIP counts as id 0). The averaged keys are
/// `model.` + every raw-CLIP key (metadata dropped) and every key of the last checkpoint that contains
/// `projector`, `adapter` or `post_prompt`; every other key (the teacher copy `raw_model.*`) is dropped.
pub fn average(raw_clip: &Weights, checkpoints: &[(i64, Weights)], start: i64, end: i64) -> Result<Weights> {
    let mut members: Vec<&Weights> = Vec::new();
    let raw_prefixed = layout::as_student(raw_clip);
    if (start..=end).contains(&0) {
        members.push(&raw_prefixed);
    }
    members.extend(checkpoints.iter().filter(|(id, _)| (start..=end).contains(id)).map(|(_, w)| w));
    if members.is_empty() {
        return Err(Error::Average(format!("no checkpoint with an id in [{start}, {end}]")));
    }
    let mut keys: Vec<String> =
        raw_clip.keys().filter(|k| !METADATA.contains(&k.as_str())).map(|k| student_key(k)).collect();
    if let Some((_, last)) = checkpoints.iter().max_by_key(|(id, _)| *id) {
        keys.extend(
            last.keys().filter(|k| ["projector", "adapter", "post_prompt"].iter().any(|p| k.contains(p))).cloned(),
        );
    }
    let mut out = Weights::new();
    for k in keys {
        let parts = members
            .iter()
            .map(|w| {
                w.get(&k)
                    .map(|t| t.to_kind(Kind::Float))
                    .ok_or_else(|| Error::Average(format!("a checkpoint lacks '{k}'")))
            })
            .collect::<Result<Vec<_>>>()?;
        if parts.iter().any(|p| p.size() != parts[0].size()) {
            return Err(Error::Average(format!("'{k}' has different shapes in the checkpoints")));
        }
        out.insert(k, Tensor::stack(&parts, 0).mean_dim([0i64].as_slice(), false, Kind::Float));
    }
    Ok(out)
}
