//! The run's configuration, with the reference's key names (TRAIN.BATCH_SIZE, SOLVER.BASE_LR, ...), from TOML
//! presets or files, overridable with `--set KEY=VALUE`. The effective config is saved beside the outputs.
use crate::lr::LrSchedule;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub struct Train {
    /// Clips per optimizer step (global batch); split into micro-batches of BATCH_SIZE / ACCUM_STEPS.
    pub batch_size: usize,
    pub accum_steps: usize,
    /// Checkpoint every N epochs.
    pub checkpoint_period: usize,
    /// Also checkpoint every N optimizer steps (0 = off).
    pub checkpoint_every_steps: usize,
    /// The pack list to train on.
    pub list: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub struct Solver {
    pub base_lr: f64,
    pub warmup_start_lr: f64,
    pub cosine_end_lr: f64,
    pub warmup_epochs: f64,
    pub max_epoch: usize,
    pub cosine_after_warmup: bool,
    pub weight_decay: f64,
    pub clip_grad_l2norm: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub struct Model {
    /// CLIP preset (vit_b16, vit_b32, vit_l14, tiny) used when no weights are given.
    pub arch: String,
    /// CLIP weights (OpenAI .pt, safetensors, or a FROSTER .pth); empty = random init (tests, demo).
    pub clip: String,
    pub distillation_ratio: f64,
    /// Residual weight of the projectors: the student's feature is f + PROJECTOR_ALPHA * projector(f).
    pub projector_alpha: f64,
    /// auto (bf16 compute on CUDA, f32 on CPU), f32 or bf16. Master weights and optimizer state stay f32.
    pub precision: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub struct Data {
    pub num_frames: usize,
    pub sampling_rate: usize,
    pub target_fps: f64,
    pub train_jitter_scales: [usize; 2],
    pub train_crop_size: usize,
    pub test_crop_size: usize,
    /// Rephrased class JSON of the training classes ({"0": "Name: description", ...}).
    pub classes: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub struct Test {
    pub num_ensemble_views: usize,
    pub num_spatial_crops: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub struct DataLoader {
    pub num_workers: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(rename = "TRAIN")]
    pub train: Train,
    #[serde(rename = "SOLVER")]
    pub solver: Solver,
    #[serde(rename = "MODEL")]
    pub model: Model,
    #[serde(rename = "DATA")]
    pub data: Data,
    #[serde(rename = "TEST")]
    pub test: Test,
    #[serde(rename = "DATA_LOADER")]
    pub data_loader: DataLoader,
    #[serde(rename = "RNG_SEED")]
    pub rng_seed: u64,
}

const BASE: &str = include_str!("../presets/base.toml");

/// Named presets: the paper's runs, and a tiny CPU one.
pub fn preset(name: &str) -> Result<String, String> {
    let overlay = match name {
        "b2n_k400" | "b2n_hmdb" | "b2n_ucf101" | "b2n_ssv2" => include_str!("../presets/b2n.toml"),
        "k400_cross" => include_str!("../presets/k400_cross.toml"),
        "tiny" => include_str!("../presets/tiny.toml"),
        _ => {
            return Err(format!("unknown preset '{name}' (b2n_k400, b2n_hmdb, b2n_ucf101, b2n_ssv2, k400_cross, tiny)"))
        }
    };
    Ok(overlay.to_string())
}

impl Config {
    /// With `DATA.CLASSES` unset, takes the pack's own class names (`classes.json`, written by `froster-pack
    /// build` when the labels came from folder or annotation names); returns that file when it did.
    pub fn classes_from_pack(&mut self, packs: &std::path::Path) -> Option<std::path::PathBuf> {
        let file = packs.join(froster_loader::format::CLASSES_FILE);
        (self.data.classes.is_empty() && file.is_file()).then(|| {
            self.data.classes = file.to_string_lossy().into_owned();
            file
        })
    }

    /// BASE, then each TOML overlay in order, then `KEY=VALUE` overrides (dotted reference names).
    pub fn build(overlays: &[String], sets: &[String]) -> Result<Config, String> {
        let mut v: toml::Value = BASE.parse().map_err(|e| format!("base config: {e}"))?;
        for o in overlays {
            let t: toml::Value = o.parse().map_err(|e| format!("config: {e}"))?;
            merge(&mut v, t);
        }
        for s in sets {
            let (key, value) = s.split_once('=').ok_or(format!("--set '{s}': expected KEY=VALUE"))?;
            set_path(&mut v, key.trim(), parse_value(value.trim()))?;
        }
        let cfg: Config = v.try_into().map_err(|e: toml::de::Error| format!("config: {}", e.message()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), String> {
        let t = &self.train;
        if t.batch_size == 0 || t.accum_steps == 0 || t.batch_size % t.accum_steps != 0 {
            return Err(format!(
                "TRAIN.BATCH_SIZE ({}) must be a positive multiple of TRAIN.ACCUM_STEPS ({})",
                t.batch_size, t.accum_steps
            ));
        }
        if self.solver.max_epoch == 0 || self.data.num_frames == 0 {
            return Err("SOLVER.MAX_EPOCH and DATA.NUM_FRAMES must be positive".into());
        }
        if !["auto", "f32", "bf16"].contains(&self.model.precision.as_str()) {
            return Err(format!("MODEL.PRECISION '{}': expected auto, f32 or bf16", self.model.precision));
        }
        if self.solver.cosine_end_lr > self.solver.base_lr {
            return Err("SOLVER.COSINE_END_LR must not exceed SOLVER.BASE_LR".into());
        }
        Ok(())
    }

    pub fn schedule(&self) -> LrSchedule {
        let s = &self.solver;
        LrSchedule {
            base_lr: s.base_lr,
            warmup_start_lr: s.warmup_start_lr,
            cosine_end_lr: s.cosine_end_lr,
            warmup_epochs: s.warmup_epochs,
            max_epoch: s.max_epoch as f64,
            cosine_after_warmup: s.cosine_after_warmup,
        }
    }

    /// The compute dtype for a device (None: f32).
    pub fn compute_kind(&self, device: tch::Device) -> Option<tch::Kind> {
        match self.model.precision.as_str() {
            "bf16" => Some(tch::Kind::BFloat16),
            "auto" if device.is_cuda() => Some(tch::Kind::BFloat16),
            _ => None,
        }
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

fn parse_value(s: &str) -> toml::Value {
    format!("x = {s}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("x"))
        .unwrap_or_else(|| toml::Value::String(s.to_string()))
}

fn set_path(v: &mut toml::Value, key: &str, value: toml::Value) -> Result<(), String> {
    let mut cur = v;
    let parts: Vec<&str> = key.split('.').collect();
    for p in &parts[..parts.len() - 1] {
        cur = cur.get_mut(*p).ok_or(format!("--set: unknown section '{p}' in '{key}'"))?;
    }
    let last = parts[parts.len() - 1];
    let table = cur.as_table_mut().ok_or(format!("--set: '{key}' is not in a section"))?;
    if !table.contains_key(last) {
        return Err(format!("--set: unknown key '{key}'"));
    }
    table.insert(last.to_string(), value);
    Ok(())
}

/// Class strings of a rephrased JSON ({"0": "...", ...}) in id order, or of a text file (one per line).
pub fn read_classes(path: &std::path::Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if path.extension().is_some_and(|e| e == "json") {
        let map: std::collections::BTreeMap<String, String> = serde_json::from_str(&text)
            .map_err(|e| format!("{}: expected {{\"0\": \"Name: description\", ...}}: {e}", path.display()))?;
        let mut rows: Vec<(i64, String)> = Vec::new();
        for (k, v) in map {
            let id = k.parse().map_err(|_| format!("{}: class id '{k}' is not an integer", path.display()))?;
            rows.push((id, v));
        }
        rows.sort();
        if rows.iter().enumerate().any(|(i, (id, _))| *id != i as i64) {
            return Err(format!("{}: class ids must be 0..N-1", path.display()));
        }
        Ok(rows.into_iter().map(|(_, v)| v).collect())
    } else {
        Ok(text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::Config;

    #[test]
    fn classes_default_to_the_packs_class_file_only_when_unset() {
        let tmp = tempfile::tempdir().unwrap();
        let mut cfg = Config::build(&[], &[]).unwrap();
        assert_eq!(cfg.classes_from_pack(tmp.path()), None, "no classes.json: nothing chosen");
        std::fs::write(tmp.path().join("classes.json"), r#"{"0": "jump"}"#).unwrap();
        let chosen = cfg.classes_from_pack(tmp.path()).unwrap();
        assert_eq!(cfg.data.classes, chosen.to_string_lossy());
        let mut set = Config::build(&[], &["DATA.CLASSES=mine.json".into()]).unwrap();
        assert_eq!(set.classes_from_pack(tmp.path()), None);
        assert_eq!(set.data.classes, "mine.json", "an explicit DATA.CLASSES wins");
    }
}
