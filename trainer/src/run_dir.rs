//! The run folder: refusing to mix two runs, checking that a resume continues the same run, and cutting the
//! step log back to the resume point.
use crate::checkpoint::{self, Latest};
use crate::config::Config;
use crate::error::{io_err, Error, Result};
use froster_model::weights::Weights;
use std::path::Path;

/// How a run may use its folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// A fresh run: the folder must be empty or absent.
    Fresh,
    /// Empty the folder first.
    Overwrite,
    /// Continue from its resume point; `force` accepts config changes that are not known to be safe.
    Resume { force: bool },
}

/// A resume point and what changed since the run started.
pub struct Resumed {
    /// The resume point.
    pub latest: Latest,
    /// Its tensors.
    pub state: Weights,
    /// Config changes accepted, each `KEY: saved -> now`.
    pub changes: Vec<String>,
}

/// Checks the folder before anything is loaded: a fresh run needs an empty folder (or --overwrite); a resume
/// needs its resume point (an empty folder starts fresh) and the same config, up to safe changes.
pub fn check(out: &Path, start: Start, cfg: &Config) -> Result<Option<Resumed>> {
    let used = std::fs::read_dir(out).map(|mut d| d.next().is_some()).unwrap_or(false);
    match start {
        Start::Fresh if used => Err(Error::RunExists { out: out.into() }),
        Start::Fresh | Start::Overwrite => Ok(None),
        Start::Resume { force } => {
            let Some((latest, state)) = checkpoint::load_resume(out)? else {
                return if used { Err(Error::NothingToResume { out: out.into() }) } else { Ok(None) };
            };
            let saved = Config::read(&out.join("config.toml"))?;
            let changes = cfg.changes_since(&saved);
            if !changes.refused.is_empty() && !force {
                return Err(Error::ResumeChanges { out: out.into(), changes: changes.refused.join("; ") });
            }
            let changes = changes.allowed.into_iter().chain(changes.refused).collect();
            Ok(Some(Resumed { latest, state, changes }))
        }
    }
}

/// Empties the folder (--overwrite), then creates it.
pub fn prepare(out: &Path, start: Start) -> Result<()> {
    if start == Start::Overwrite && out.exists() {
        std::fs::remove_dir_all(out).map_err(io_err(out))?;
    }
    std::fs::create_dir_all(out).map_err(io_err(out))
}

/// Drops the step log's lines past `step`: a resumed run logs those steps again.
pub fn cut_log(path: &Path, step: usize) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(()) };
    let keep: String = text
        .lines()
        .filter(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
            v["step"].as_u64().is_some_and(|s| s as usize <= step)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(path, keep).map_err(io_err(path))
}
