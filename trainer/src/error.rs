//! froster-train's errors. Each names the file, key or value it is about.
use std::path::PathBuf;

/// Errors of configuring, running and checkpointing a training run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration that cannot be used: the message names the keys.
    #[error("config: {0}")]
    Config(String),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// A JSON file could not be read or written.
    #[error("{}: {source}", path.display())]
    Json { path: PathBuf, source: serde_json::Error },
    /// The model crate failed (weights, tokenizer, device).
    #[error(transparent)]
    Model(#[from] froster_model::Error),
    /// The loader failed (pack, list, classes).
    #[error(transparent)]
    Loader(#[from] froster_loader::Error),
    /// libtorch failed.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
    /// The list to train on has no clip.
    #[error("{}: list '{list}' is empty", pack.display())]
    EmptyList { pack: PathBuf, list: String },
    /// One optimizer step needs more clips than one epoch gives.
    #[error("list '{list}' has fewer clips than one batch ({batch})")]
    TooFewClips { list: String, batch: usize },
    /// No class names were given and the pack has none.
    #[error(
        "DATA.CLASSES is not set and {} has no classes.json: give the training classes' rephrased JSON, \
         e.g. --set DATA.CLASSES=train_rephrased.json",
        pack.display()
    )]
    NoClasses { pack: PathBuf },
    /// A video's label is not a class of the class file.
    #[error("{}: video '{video}' has label {label}, but DATA.CLASSES has {classes} classes", pack.display())]
    LabelOutOfRange { pack: PathBuf, video: String, label: i64, classes: usize },
    /// The loss became NaN or infinite.
    #[error(
        "non-finite loss {loss} at step {step} (epoch {epoch}, iteration {iter}); the last good checkpoint is in {}",
        checkpoints.display()
    )]
    NonFinite { loss: f64, step: usize, epoch: usize, iter: usize, checkpoints: PathBuf },
    /// The optimizer's update failed (the fused kernel refused its inputs).
    #[error("optimizer: {0}")]
    Optimizer(String),
    /// Optimizer state that does not fit the model's parameters.
    #[error("optimizer state of the resume point: {0}")]
    OptimizerState(String),
    /// A fresh run into a folder that holds another run.
    #[error(
        "{} is not empty: pass --resume to continue the run in it, or --overwrite to empty it first",
        out.display()
    )]
    RunExists { out: PathBuf },
    /// --resume on a folder without a resume point.
    #[error("{}: nothing to resume (no checkpoints/resume/latest.json); --overwrite starts afresh", out.display())]
    NothingToResume { out: PathBuf },
    /// --resume with config changes that would spoil the run.
    #[error("{}: the config differs from the run's in ways a resume cannot take: {changes}; --force accepts them", out.display())]
    ResumeChanges { out: PathBuf, changes: String },
    /// --strict with listed videos that are not in the pack.
    #[error("list '{list}': {counts} (--strict)")]
    Missing { list: String, counts: froster_loader::ListCounts },
    /// Another rank failed before this one could go on (its own message says why).
    #[error("rank(s) {ranks:?} failed (see their messages); this rank stops too")]
    PeerFailed { ranks: Vec<usize> },
    /// A rank started by the built-in launcher failed.
    #[error("rank {rank} {how}; the other ranks were stopped (--resume continues from the last checkpoint)")]
    RankFailed { rank: usize, how: String },
    /// A collective failed and the heartbeats name the ranks that died or hung.
    #[error("rank(s) {ranks:?} {why} (dead or hung): {source}")]
    PeerGone { ranks: Vec<usize>, why: String, source: Box<froster_shim::Error> },
    /// The process group failed: a peer died or hung past the timeout.
    #[error("distributed: {0}")]
    Dist(#[from] froster_shim::Error),
    /// Moving batches to the device ahead of the step failed (froster-train --prefetch off avoids it).
    #[error("feed: {0} (--prefetch off moves each batch in the step's own thread instead)")]
    Feed(String),
    /// A resume point that does not fit the model.
    #[error("{}: {reason}", path.display())]
    Resume { path: PathBuf, reason: String },
}

/// froster-train's result.
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.into(), source }
}
