//! froster-pack's errors. Each names the file or folder it is about.
use std::path::{Path, PathBuf};

/// Errors of building and maintaining packs. A video that fails to decode is not one of them: it is a
/// [`VideoError`], reported in `failed.csv`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The folder holds a pack of an older format, which a build cannot extend.
    #[error(
        "{}: holds a pack of format {version}, made by an older froster-pack (this one writes format {}): build \
         into a new folder, or remove this one first",
        dir.display(),
        froster_loader::format::VERSION
    )]
    OlderPack { dir: PathBuf, version: u64 },
    /// Another froster-pack is writing the pack folder.
    #[error("{}: another froster-pack is writing this pack ({holder}); wait for it to finish", pack.display())]
    Busy { pack: PathBuf, holder: String },
    /// A file or folder could not be read or written.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// A JSON file (manifest, sidecar, build.json) could not be read or written.
    #[error("{}: {source}", path.display())]
    Json { path: PathBuf, source: serde_json::Error },
    /// Reading the pack failed.
    #[error(transparent)]
    Pack(#[from] froster_loader::Error),
    /// The dataset folder could not be read.
    #[error(transparent)]
    Discover(#[from] crate::discover::DiscoverError),
    /// A resumed build asked for other storage options than the folder was started with.
    #[error("{} was started with {had}; this build asks for {want}: rerun with the same options, or use another --out", path.display())]
    OtherOptions { path: PathBuf, had: String, want: String },
    /// A video id the pack does not have.
    #[error("{}: no video '{id}' in the pack{where_}", pack.display())]
    NoVideo { pack: PathBuf, id: String, where_: &'static str },
    /// The dataset root is not a folder.
    #[error("dataset root {} is not a folder", .0.display())]
    NotAFolder(PathBuf),
    /// --out names something that is not a folder.
    #[error("--out {} is a file, not a pack folder", .0.display())]
    OutIsAFile(PathBuf),
    /// A replacement video could not be decoded.
    #[error("{}: cannot decode: {source}", path.display())]
    Replacement { path: PathBuf, source: VideoError },
    /// A PNG could not be written.
    #[error("{}: {source}", path.display())]
    Png { path: PathBuf, source: png::EncodingError },
}

/// froster-pack's result.
pub type Result<T> = std::result::Result<T, Error>;

/// Why one video could not be packed; the text goes to `failed.csv`.
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    /// The listed file does not exist.
    #[error("file not found")]
    NotFound,
    /// The file could not be read.
    #[error("{0}")]
    Io(std::io::Error),
    /// The decoder failed.
    #[error("{0}")]
    Decode(String),
    /// A lossy pack's frame that no quality of the codec's ladder keeps at the PSNR floor.
    #[error("below the PSNR floor: {0}")]
    Fidelity(String),
    /// The encoder failed.
    #[error("encoding: {0}")]
    Encode(String),
    /// The decoder concealed too many errors: a damaged bitstream.
    #[error("damaged bitstream: the decoder concealed {errors} errors in {frames} frames")]
    Damaged { errors: u32, frames: u32 },
    /// Far fewer frames decoded than the container promises.
    #[error("truncated: decoded {decoded} of {expected} frames")]
    Truncated { decoded: u32, expected: u32 },
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.into(), source }
}

pub(crate) fn json_err(path: &Path) -> impl FnOnce(serde_json::Error) -> Error + '_ {
    move |source| Error::Json { path: path.into(), source }
}
