use std::path::PathBuf;

/// Errors of the loader. Each names the file or video it is about.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a FROSTER pack: {reason}")]
    BadPack { path: PathBuf, reason: String },
    #[error("pack video {video} frame {frame}: {reason}")]
    CorruptFrame { video: String, frame: usize, reason: String },
    #[error("{path}: line {line}: {reason}")]
    BadList { path: PathBuf, line: usize, reason: String },
    #[error("{path}: cannot decode: {reason}")]
    Decode { path: PathBuf, reason: String },
    #[error("unknown list '{name}' (the pack has: {known})")]
    UnknownList { name: String, known: String },
    #[error("{0}")]
    Config(String),
    #[error("loader stopped: {0}")]
    Stopped(String),
}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
