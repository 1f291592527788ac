//! The loader's errors. Each names the file or video it is about.
use std::path::PathBuf;

/// Errors of the loader.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A folder or file is not a readable pack.
    #[error("{}: not a FROSTER pack: {reason}", path.display())]
    BadPack {
        /// The pack folder or file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A folder without a manifest.
    #[error("{}: not a pack (no manifest.json)", .0.display())]
    NotAPack(PathBuf),
    /// A stored frame fails its checksum or does not decompress.
    #[error("pack video {video} frame {frame}: {reason}")]
    CorruptFrame {
        /// The video's id.
        video: String,
        /// The stored frame's index.
        frame: usize,
        /// What is wrong.
        reason: String,
    },
    /// A list file has a line that is not `path,label`.
    #[error("{}: line {line}: {reason}", path.display())]
    BadList {
        /// The list file.
        path: PathBuf,
        /// Its line, from 1.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A class file is not a rephrased JSON or a list of names.
    #[error("{}: {reason}", path.display())]
    BadClasses {
        /// The class file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A video could not be decoded.
    #[error("{}: cannot decode: {reason}", path.display())]
    Decode {
        /// The video file.
        path: PathBuf,
        /// The decoder's reason.
        reason: String,
    },
    /// A list name the pack does not have.
    #[error("unknown list '{name}' (the pack has: {known})")]
    UnknownList {
        /// The name asked for.
        name: String,
        /// The pack's lists.
        known: String,
    },
    /// Loader settings that cannot work (a zero batch size, say).
    #[error("loader settings: {0}")]
    InvalidConfig(String),
    /// GStreamer could not be initialised.
    #[error("GStreamer: {0}")]
    GStreamer(String),
    /// A worker thread stopped (it panicked, or its channel closed early).
    #[error("loader stopped: {0}")]
    Stopped(String),
}

/// The loader's result.
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
