//! The run's configuration, with the reference's key names (TRAIN.BATCH_SIZE, SOLVER.BASE_LR, ...), from TOML
//! presets or files, overridable with `--set KEY=VALUE`. The effective config is saved beside the outputs.
use crate::error::{Error, Result};
use crate::lr::LrSchedule;
pub use reference::Translation;
pub use resume::Changes;

mod reference;
mod resume;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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
    /// Also a resume point every N minutes of wall clock (0 = off).
    pub checkpoint_minutes: f64,
    /// The pack list to train on.
    pub list: String,
    /// Validate every N epochs (0 = off).
    pub eval_period: usize,
    /// The pack list to validate on (the training classes' videos).
    pub eval_list: String,
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
    /// Compute precision; master weights and optimizer state stay f32.
    pub precision: Precision,
    /// froster (fine-tuning with distillation) or contrastive (CLIP pretraining: labels index caption strings).
    #[serde(default)]
    pub objective: TrainObjective,
}

/// What a run optimises.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum TrainObjective {
    /// FROSTER: cross-entropy plus distillation towards the frozen teacher (DISTILLATION_RATIO 0: plain fine-tuning).
    #[default]
    Froster,
    /// CLIP's symmetric InfoNCE between clips and their captions (DATA.CLASSES), to pretrain a CLIP.
    Contrastive,
}

/// The towers' compute dtype.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// bf16 on CUDA, f32 on the CPU.
    Auto,
    /// f32 everywhere.
    F32,
    /// bf16 everywhere.
    Bf16,
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

const BASE: &str = include_str!("../../presets/base.toml");

/// Named presets: the paper's runs, and a tiny CPU one.
pub fn preset(name: &str) -> Result<&'static str> {
    match name {
        "b2n_k400" | "b2n_hmdb" | "b2n_ucf101" | "b2n_ssv2" => Ok(include_str!("../../presets/b2n.toml")),
        "k400_cross" => Ok(include_str!("../../presets/k400_cross.toml")),
        "tiny" => Ok(include_str!("../../presets/tiny.toml")),
        _ => Err(Error::Config(format!(
            "unknown preset '{name}' (b2n_k400, b2n_hmdb, b2n_ucf101, b2n_ssv2, k400_cross, tiny)"
        ))),
    }
}

/// The config flags that `froster-train` and `froster-bench train-step` share.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ConfigArgs {
    /// Named preset: b2n_k400, b2n_hmdb, b2n_ucf101, b2n_ssv2, k400_cross, tiny.
    #[arg(long)]
    pub preset: Option<String>,
    /// TOML config files (reference key names), applied after the preset.
    #[arg(long = "config")]
    pub configs: Vec<PathBuf>,
    /// Override one key, e.g. --set SOLVER.BASE_LR=1e-5 --set MODEL.CLIP=ViT-B-16.pt (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// The reference's overrides, `KEY VALUE` pairs with its key names (after --config, before --set).
    #[arg(long, num_args = 1.., value_name = "KEY VALUE")]
    pub opts: Vec<String>,
    /// Overrides a caller applies right after the preset, before everything the user gave (not a flag).
    #[arg(skip)]
    pub defaults: Vec<String>,
}

impl ConfigArgs {
    /// The base config, then the preset, the files and the overrides, validated.
    pub fn load(&self) -> Result<Config> {
        Ok(self.load_noted()?.0)
    }

    /// As [`ConfigArgs::load`], with what the reference's YAML files and `--opts` said that has no key here.
    /// TOML files apply in order after the preset; YAML files (the reference's) and `--opts` are translated to
    /// overrides applied after them; `--set` comes last.
    pub fn load_noted(&self) -> Result<(Config, Translation)> {
        let mut overlays = Vec::new();
        if let Some(p) = &self.preset {
            overlays.push(preset(p)?.to_string());
        }
        let mut pairs = Vec::new();
        for c in &self.configs {
            if c.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                pairs.extend(reference::read_yaml(c)?);
            } else {
                overlays.push(std::fs::read_to_string(c).map_err(crate::error::io_err(c))?);
            }
        }
        pairs.extend(reference::read_opts(&self.opts)?);
        let mut t = reference::translate(&pairs)?;
        let sets: Vec<String> = self.defaults.iter().chain(&t.sets).chain(&self.sets).cloned().collect();
        let cfg = Config::build(&overlays, &sets)?;
        t.sets = sets;
        Ok((cfg, t))
    }
}

impl Config {
    /// With `DATA.CLASSES` unset, takes the pack's own class names (`classes.json`, written by `froster-pack
    /// build` when the labels came from folder or annotation names); returns that file when it did.
    pub fn classes_from_pack(&mut self, packs: &Path) -> Option<PathBuf> {
        let file = packs.join(froster_loader::format::CLASSES_FILE);
        (self.data.classes.is_empty() && file.is_file()).then(|| {
            self.data.classes = file.to_string_lossy().into_owned();
            file
        })
    }

    /// BASE, then each TOML overlay in order, then `KEY=VALUE` overrides (dotted reference names).
    pub fn build(overlays: &[String], sets: &[String]) -> Result<Config> {
        let mut v: toml::Value = BASE.parse().map_err(|e| Error::Config(format!("base config: {e}")))?;
        for o in overlays {
            let t: toml::Value = o.parse().map_err(|e| Error::Config(format!("{e}")))?;
            merge(&mut v, t);
        }
        for s in sets {
            let (key, value) =
                s.split_once('=').ok_or_else(|| Error::Config(format!("--set '{s}': expected KEY=VALUE")))?;
            set_path(&mut v, key.trim(), parse_value(value.trim())).map_err(Error::Config)?;
        }
        let cfg: Config = v.try_into().map_err(|e: toml::de::Error| Error::Config(e.message().to_string()))?;
        cfg.validate().map_err(Error::Config)?;
        Ok(cfg)
    }

    /// A run's saved `config.toml`.
    pub fn read(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(crate::error::io_err(path))?;
        let cfg: Config =
            toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {}", path.display(), e.message())))?;
        cfg.validate().map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        Ok(cfg)
    }

    fn validate(&self) -> std::result::Result<(), String> {
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
        if self.solver.cosine_end_lr > self.solver.base_lr {
            return Err("SOLVER.COSINE_END_LR must not exceed SOLVER.BASE_LR".into());
        }
        if self.solver.warmup_epochs >= self.solver.max_epoch as f64 {
            return Err(format!(
                "SOLVER.WARMUP_EPOCHS ({}) must be below SOLVER.MAX_EPOCH ({}): the learning rate would never leave \
                 the warmup",
                self.solver.warmup_epochs, self.solver.max_epoch
            ));
        }
        let d = &self.data;
        let positive = [
            ("DATA.SAMPLING_RATE", d.sampling_rate),
            ("DATA.TRAIN_CROP_SIZE", d.train_crop_size),
            ("DATA.TEST_CROP_SIZE", d.test_crop_size),
            ("DATA.TRAIN_JITTER_SCALES", d.train_jitter_scales[0]),
            ("TEST.NUM_ENSEMBLE_VIEWS", self.test.num_ensemble_views),
            ("TRAIN.CHECKPOINT_PERIOD", self.train.checkpoint_period),
        ];
        if let Some((k, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(format!("{k} must be positive"));
        }
        let too_big = [
            ("DATA.TRAIN_CROP_SIZE", d.train_crop_size, 1024),
            ("DATA.TEST_CROP_SIZE", d.test_crop_size, 1024),
            ("DATA.TRAIN_JITTER_SCALES", d.train_jitter_scales[1], 4096),
            ("DATA.NUM_FRAMES", d.num_frames, 512),
        ];
        if let Some((k, v, max)) = too_big.iter().find(|(_, v, max)| v > max) {
            return Err(format!("{k} = {v} is over {max}: a batch would not fit in memory"));
        }
        if d.train_jitter_scales[0] > d.train_jitter_scales[1] || d.train_crop_size > d.train_jitter_scales[0] {
            return Err(format!(
                "DATA.TRAIN_JITTER_SCALES {:?} must be ascending and at least DATA.TRAIN_CROP_SIZE ({})",
                d.train_jitter_scales, d.train_crop_size
            ));
        }
        if ![1, 3].contains(&self.test.num_spatial_crops) {
            return Err(format!("TEST.NUM_SPATIAL_CROPS is {}: 1 or 3", self.test.num_spatial_crops));
        }
        if self.model.clip.is_empty() {
            return Err("MODEL.CLIP is not set: give CLIP weights (OpenAI's ViT-B-16.pt, a FROSTER .pth or \
                        safetensors), or MODEL.CLIP=random to train from random weights"
                .into());
        }
        Ok(())
    }

    /// The learning-rate schedule of SOLVER.
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
        match self.model.precision {
            Precision::Bf16 => Some(tch::Kind::BFloat16),
            Precision::Auto if device.is_cuda() => Some(tch::Kind::BFloat16),
            _ => None,
        }
    }

    /// The effective config as TOML, as saved beside a run's outputs.
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

fn set_path(v: &mut toml::Value, key: &str, value: toml::Value) -> std::result::Result<(), String> {
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

#[cfg(test)]
mod tests {
    use super::Config;

    #[test]
    fn classes_default_to_the_packs_class_file_only_when_unset() {
        let tmp = tempfile::tempdir().unwrap();
        let random = ["MODEL.CLIP=random".to_string()];
        let mut cfg = Config::build(&[], &random).unwrap();
        assert_eq!(cfg.classes_from_pack(tmp.path()), None, "no classes.json: nothing chosen");
        std::fs::write(tmp.path().join("classes.json"), r#"{"0": "jump"}"#).unwrap();
        let chosen = cfg.classes_from_pack(tmp.path()).unwrap();
        assert_eq!(cfg.data.classes, chosen.to_string_lossy());
        let mut set = Config::build(&[], &[random[0].clone(), "DATA.CLASSES=mine.json".into()]).unwrap();
        assert_eq!(set.classes_from_pack(tmp.path()), None);
        assert_eq!(set.data.classes, "mine.json", "an explicit DATA.CLASSES wins");
    }
}
