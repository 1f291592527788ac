//! The reference's yacs configs: its YAML files (`configs/Kinetics/*.yaml`) and `--opts KEY VALUE` pairs,
//! translated to this project's keys. Keys with the same meaning keep their name; renamed ones are mapped
//! (`TRAIN.CLIP_ORI_PATH` -> `MODEL.CLIP`, ...); settings this project cannot honour are refused with the reason;
//! keys with no meaning here are listed in a warning, never dropped silently.
use crate::error::{Error, Result};
use serde_yaml::Value;
use std::path::Path;

/// What a reference config says, in this project's terms.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Translation {
    /// `KEY=VALUE` overrides of this project's config.
    pub sets: Vec<String>,
    /// The run folder (`OUTPUT_DIR`).
    pub out: Option<String>,
    /// Keys that were noted: mapped elsewhere, or with no meaning here (each with why).
    pub notes: Vec<String>,
}

/// This project's keys that the reference spells the same.
const SAME: [&str; 26] = [
    "RNG_SEED",
    "TRAIN.BATCH_SIZE",
    "TRAIN.CHECKPOINT_PERIOD",
    "TRAIN.EVAL_PERIOD",
    "SOLVER.BASE_LR",
    "SOLVER.WARMUP_START_LR",
    "SOLVER.COSINE_END_LR",
    "SOLVER.WARMUP_EPOCHS",
    "SOLVER.MAX_EPOCH",
    "SOLVER.COSINE_AFTER_WARMUP",
    "SOLVER.WEIGHT_DECAY",
    "SOLVER.CLIP_GRAD_L2NORM",
    "MODEL.ARCH",
    "MODEL.DISTILLATION_RATIO",
    "DATA.NUM_FRAMES",
    "DATA.SAMPLING_RATE",
    "DATA.TARGET_FPS",
    "DATA.TRAIN_JITTER_SCALES",
    "DATA.TRAIN_CROP_SIZE",
    "DATA.TEST_CROP_SIZE",
    "TEST.NUM_ENSEMBLE_VIEWS",
    "TEST.NUM_SPATIAL_CROPS",
    "DATA_LOADER.NUM_WORKERS",
    "TRAIN.ACCUM_STEPS",
    "MODEL.PROJECTOR_ALPHA",
    "MODEL.PRECISION",
];

/// Keys that must hold one value here (the reference's value that this project implements).
const FIXED: [(&str, &str); 8] = [
    ("MODEL.TEMPORAL_MODELING_TYPE", "expand_temporal_view"),
    ("MODEL.MODEL_NAME", "TemporalClipVideo"),
    ("SOLVER.OPTIMIZING_METHOD", "adamw"),
    ("SOLVER.LR_POLICY", "cosine"),
    ("SOLVER.ZERO_WD_1D_PARAM", "true"),
    ("MIXUP.ENABLE", "false"),
    ("AUG.ENABLE", "false"),
    ("DATA.PATH_LABEL_SEPARATOR", ","),
];

/// Flattens a yacs YAML file to (dotted key, value) pairs in file order.
pub fn read_yaml(path: &Path) -> Result<Vec<(String, Value)>> {
    let text = std::fs::read_to_string(path).map_err(crate::error::io_err(path))?;
    let v: Value = serde_yaml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    let mut out = Vec::new();
    flatten("", &v, &mut out);
    Ok(out)
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Mapping(m) => {
            for (k, v) in m {
                let k = k.as_str().map(str::to_string).unwrap_or_else(|| yaml_text(k));
                let key = if prefix.is_empty() { k } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        other => out.push((prefix.to_string(), other.clone())),
    }
}

/// `--opts KEY VALUE ...` as the reference's command lines give them (values read as YAML scalars, as yacs's
/// literal_eval does).
pub fn read_opts(opts: &[String]) -> Result<Vec<(String, Value)>> {
    if opts.len() % 2 != 0 {
        return Err(Error::Config(format!("--opts takes KEY VALUE pairs; '{}' has no value", opts[opts.len() - 1])));
    }
    let pairs = opts.chunks(2).map(|p| {
        let v = serde_yaml::from_str::<Value>(&p[1]).unwrap_or_else(|_| Value::String(p[1].clone()));
        (p[0].clone(), if v.is_null() { Value::String(p[1].clone()) } else { v })
    });
    Ok(pairs.collect())
}

/// Translates reference pairs (YAML first, then opts) to this project's overrides.
pub fn translate(pairs: &[(String, Value)]) -> Result<Translation> {
    let mut t = Translation::default();
    for (key, value) in pairs {
        translate_one(key, value, &mut t)?;
    }
    // The reference distils only with RAW_MODEL_DISTILLATION on, whatever DISTILLATION_RATIO says: its last
    // value decides.
    let raw = pairs.iter().rev().find(|(k, _)| k == "MODEL.RAW_MODEL_DISTILLATION").map(|(_, v)| truthy(v));
    if raw == Some(false) {
        t.sets.push("MODEL.DISTILLATION_RATIO=0.0".into());
        t.notes.push("MODEL.RAW_MODEL_DISTILLATION False: no distillation (MODEL.DISTILLATION_RATIO = 0)".into());
    }
    Ok(t)
}

fn translate_one(key: &str, value: &Value, t: &mut Translation) -> Result<()> {
    let text = yaml_text(value);
    let set = |t: &mut Translation, ours: &str, v: String| t.sets.push(format!("{ours}={v}"));
    if SAME.contains(&key) {
        set(t, key, toml_literal(value));
        return Ok(());
    }
    if let Some((_, want)) = FIXED.iter().find(|(k, _)| *k == key) {
        if !text.eq_ignore_ascii_case(want) {
            return Err(Error::Config(format!("{key} = {text}: only {want} is implemented here")));
        }
        return Ok(());
    }
    let stem = || Path::new(&text).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or(text.clone());
    match key {
        "TRAIN.CLIP_ORI_PATH" => set(t, "MODEL.CLIP", toml_string(&text)),
        "DATA.INDEX_LABEL_MAPPING_FILE" => set(t, "DATA.CLASSES", toml_string(&text)),
        "TRAIN_FILE" => set(t, "TRAIN.LIST", toml_string(&stem())),
        "VAL_FILE" => set(t, "TRAIN.EVAL_LIST", toml_string(&stem())),
        "TRAIN.MIXED_PRECISION" => set(t, "MODEL.PRECISION", toml_string(if truthy(value) { "auto" } else { "f32" })),
        "OUTPUT_DIR" => t.out = Some(text),
        "TRAIN.ENABLE" if !truthy(value) => {
            return Err(Error::Config("TRAIN.ENABLE False: froster-train trains; evaluate with froster-eval".into()))
        }
        "MODEL.RAW_MODEL_DISTILLATION" | "MODEL.KEEP_RAW_MODEL" | "TRAIN.ENABLE" => {}
        "MODEL.LOSS_FUNC" if !["cross_entropy", "soft_cross_entropy"].contains(&text.as_str()) => {
            return Err(Error::Config(format!("MODEL.LOSS_FUNC = {text}: only (soft) cross-entropy is implemented")))
        }
        "DATA.MEAN" | "DATA.STD" => check_normalisation(key, value)?,
        _ => t.notes.push(note(key, &text)),
    }
    Ok(())
}

/// Why a key has no effect here.
fn note(key: &str, text: &str) -> String {
    let why = match key {
        "TEST_FILE" => "evaluate it with `froster-eval --list <its stem>`",
        "DATA.PATH_TO_DATA_DIR" | "DATA.PATH_PREFIX" => {
            "videos come from --packs (`froster-pack build <DATA.PATH_PREFIX> --list <DATA.PATH_TO_DATA_DIR>/<file>`)"
        }
        "NUM_GPUS" | "NUM_SHARDS" => "one process; TRAIN.BATCH_SIZE is the global batch, as in the reference",
        "TEST.ENABLE" | "TEST.BATCH_SIZE" | "TEST.DATASET" => "evaluate after training with froster-eval",
        "TRAIN.AUTO_RESUME" => "pass --resume",
        "MODEL.NUM_CLASSES" => "the classes come from DATA.CLASSES",
        "MODEL.LOSS_FUNC" => "cross-entropy (the same without mixup)",
        "DATA.DECODING_BACKEND" => "frames come from packs",
        _ => "no meaning here",
    };
    format!("{key} = {text}: {why}")
}

fn check_normalisation(key: &str, value: &Value) -> Result<()> {
    let want = if key == "DATA.MEAN" { froster_loader::CLIP_MEAN } else { froster_loader::CLIP_STD };
    let got: Vec<f64> = value.as_sequence().map(|s| s.iter().filter_map(Value::as_f64).collect()).unwrap_or_default();
    let same = got.len() == 3 && got.iter().zip(want).all(|(g, w)| (g - w as f64).abs() < 1e-6);
    if !same {
        return Err(Error::Config(format!(
            "{key} = {}: only CLIP's normalisation {want:?} is implemented",
            yaml_text(value)
        )));
    }
    Ok(())
}

fn truthy(v: &Value) -> bool {
    v.as_bool().unwrap_or_else(|| yaml_text(v).eq_ignore_ascii_case("true"))
}

/// A YAML value as plain text.
fn yaml_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other).unwrap_or_default().trim().to_string(),
    }
}

/// A YAML value as a TOML literal for `--set`.
fn toml_literal(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Sequence(s) => format!("[{}]", s.iter().map(toml_literal).collect::<Vec<_>>().join(", ")),
        other => toml_string(&yaml_text(other)),
    }
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}
