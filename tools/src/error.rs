//! froster-tools' errors. Each names the file, list or value it is about.
use std::path::PathBuf;

/// Errors of evaluation, prediction, checkpoint tools and benchmarks.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be read or written.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// A JSON file could not be written.
    #[error("{}: {source}", path.display())]
    Json { path: PathBuf, source: serde_json::Error },
    /// A PNG could not be written.
    #[error("{}: {source}", path.display())]
    Png { path: PathBuf, source: png::EncodingError },
    /// A checkpoint that is not a CLIP.
    #[error("{}: not a CLIP checkpoint: {source}", path.display())]
    NotAClip { path: PathBuf, source: froster_model::Error },
    /// The model crate failed.
    #[error(transparent)]
    Model(#[from] froster_model::Error),
    /// The loader failed.
    #[error(transparent)]
    Loader(#[from] froster_loader::Error),
    /// The trainer's library failed (config, checkpoints).
    #[error(transparent)]
    Train(#[from] froster_train::Error),
    /// Building a pack failed (benchmarks).
    #[error(transparent)]
    Pack(#[from] froster_pack::Error),
    /// An evaluated list has no video.
    #[error("list '{0}' is empty")]
    EmptyList(String),
    /// A list's label is not a class of the class file.
    #[error("list '{list}' has label {label}, but the class file has {classes} classes")]
    LabelOutOfRange { list: String, label: i64, classes: usize },
    /// A run folder without epoch checkpoints.
    #[error("{}: no checkpoint_epoch_* files", .0.display())]
    NoCheckpoints(PathBuf),
    /// Weight averaging could not be done.
    #[error("averaging: {0}")]
    Average(String),
    /// An argument out of its range.
    #[error("{0}")]
    Argument(String),
}

/// froster-tools' result.
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.into(), source }
}
