use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {reason}")]
    Checkpoint { path: PathBuf, reason: String },
    #[error("unsafe pickle refused: {0}")]
    UnsafePickle(String),
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Torch(#[from] tch::TchError),
    #[error(transparent)]
    Tokenize(#[from] crate::tokenizer::TokenizeError),
}

pub type Result<T> = std::result::Result<T, Error>;
