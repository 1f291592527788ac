//! The model crate's errors. Each names the file, key or value it is about.
use std::path::PathBuf;

/// Errors of CLIP building, checkpoint reading and tokenizing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file is not a checkpoint we can read.
    #[error("{}: {reason}", path.display())]
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A pickle asked for something other than tensors and containers; nothing of it was run.
    #[error("unsafe pickle refused: {0}")]
    UnsafePickle(String),
    /// A pickle is malformed (truncated, unbalanced, of the wrong shape).
    #[error("malformed pickle: {0}")]
    Pickle(String),
    /// An unknown CLIP preset name.
    #[error("unknown CLIP preset '{0}' (vit_b32, vit_b16, vit_l14, tiny)")]
    UnknownPreset(String),
    /// Weights lack a tensor that a CLIP needs.
    #[error("weights lack '{0}': not a CLIP checkpoint")]
    MissingKey(String),
    /// A checkpoint tensor's shape differs from the model variable's.
    #[error("'{name}': checkpoint shape {checkpoint:?}, model {model:?}")]
    Shape {
        /// The variable.
        name: String,
        /// Its shape in the checkpoint.
        checkpoint: Vec<i64>,
        /// Its shape in the model.
        model: Vec<i64>,
    },
    /// Model variables that the checkpoint has no tensor for.
    #[error("checkpoint lacks {count} tensors, e.g. {examples}")]
    MissingTensors {
        /// How many.
        count: usize,
        /// The first few names.
        examples: String,
    },
    /// A device that is not available or not understood.
    #[error("{0}")]
    Device(String),
    /// libtorch refused an operation.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
    /// Prompts that cannot be packed as asked ([`crate::PackedLayout`]).
    #[error("packed prompts: {0}")]
    Packing(String),
    /// A prompt could not be tokenized.
    #[error(transparent)]
    Tokenize(#[from] crate::tokenizer::TokenizeError),
}

/// The model crate's result.
pub type Result<T> = std::result::Result<T, Error>;
