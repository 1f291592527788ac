//! What a resumed run may change: a resume continues the saved run, so the data, the model, the objective and
//! the optimizer must stay as they were; only how the run is watched and stored, and a longer schedule, may change.
use super::Config;
use std::collections::BTreeMap;

/// Keys a resumed run may change.
const SAFE: [&str; 9] = [
    "DATA_LOADER.NUM_WORKERS",
    "TRAIN.CHECKPOINT_PERIOD",
    "TRAIN.CHECKPOINT_EVERY_STEPS",
    "TRAIN.CHECKPOINT_MINUTES",
    "TRAIN.EVAL_PERIOD",
    "TRAIN.EVAL_LIST",
    "TEST.NUM_ENSEMBLE_VIEWS",
    "TEST.NUM_SPATIAL_CROPS",
    "DATA.TEST_CROP_SIZE",
];

/// How a config differs from the one a run was started with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    /// Changes that would spoil the run, each `KEY: saved -> now`.
    pub refused: Vec<String>,
    /// Changes that are safe, each `KEY: saved -> now` and what follows.
    pub allowed: Vec<String>,
}

impl Config {
    /// The differences from `saved`, sorted into refused and allowed.
    pub fn changes_since(&self, saved: &Config) -> Changes {
        let (old, new) = (flat(saved), flat(self));
        let mut c = Changes::default();
        for (key, now) in &new {
            let was = old.get(key).cloned().unwrap_or_default();
            if &was == now {
                continue;
            }
            let line = format!("{key}: {was} -> {now}");
            if SAFE.contains(&key.as_str()) {
                c.allowed.push(line);
            } else if key == "SOLVER.MAX_EPOCH" && self.solver.max_epoch > saved.solver.max_epoch {
                c.allowed.push(format!("{line} (the cosine schedule is stretched over the new length from here)"));
            } else {
                c.refused.push(line);
            }
        }
        c
    }
}

fn flat(cfg: &Config) -> BTreeMap<String, String> {
    let v = toml::Value::try_from(cfg).unwrap_or(toml::Value::Table(Default::default()));
    let mut out = BTreeMap::new();
    walk("", &v, &mut out);
    out
}

fn walk(prefix: &str, v: &toml::Value, out: &mut BTreeMap<String, String>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                walk(&key, v, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}
