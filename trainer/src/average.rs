//! Weight averaging of epoch checkpoints, as the reference's weight_average_tool.
use froster_model::weights::Weights;
use tch::{Kind, Tensor};

const META: [&str; 3] = ["input_resolution", "context_length", "vocab_size"];

/// Checkpoint id of a file name: the number after the last '_' of the part before the first '.'.
pub fn checkpoint_id(file_name: &str) -> Option<i64> {
    file_name.split('.').next()?.rsplit('_').next()?.parse().ok()
}

/// Averages the checkpoints whose ids lie in [start, end] (the raw CLIP counts as id 0). The averaged keys are
/// `model.` + every raw-CLIP key (metadata dropped) and every key of the last checkpoint that contains
/// `projector`, `adapter` or `post_prompt`; every other key (the teacher copy `raw_model.*`) is dropped.
pub fn average(raw_clip: &Weights, checkpoints: &[(i64, Weights)], start: i64, end: i64) -> Result<Weights, String> {
    let mut members: Vec<&Weights> = Vec::new();
    let raw_prefixed: Weights = raw_clip.iter().map(|(k, v)| (format!("model.{k}"), v.shallow_clone())).collect();
    if (start..=end).contains(&0) {
        members.push(&raw_prefixed);
    }
    members.extend(checkpoints.iter().filter(|(id, _)| (start..=end).contains(id)).map(|(_, w)| w));
    if members.is_empty() {
        return Err(format!("no checkpoint with an id in [{start}, {end}]"));
    }
    let mut keys: Vec<String> =
        raw_clip.keys().filter(|k| !META.contains(&k.as_str())).map(|k| format!("model.{k}")).collect();
    if let Some((_, last)) = checkpoints.iter().max_by_key(|(id, _)| *id) {
        keys.extend(
            last.keys().filter(|k| ["projector", "adapter", "post_prompt"].iter().any(|p| k.contains(p))).cloned(),
        );
    }
    let mut out = Weights::new();
    for k in keys {
        let parts = members
            .iter()
            .map(|w| w.get(&k).map(|t| t.to_kind(Kind::Float)).ok_or_else(|| format!("a checkpoint lacks '{k}'")))
            .collect::<Result<Vec<_>, _>>()?;
        out.insert(k, Tensor::stack(&parts, 0).mean_dim([0i64].as_slice(), false, Kind::Float));
    }
    Ok(out)
}
