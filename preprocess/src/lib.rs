//! froster-pack: decodes each video once with GStreamer into sharded, frame-indexed, checksummed zstd packs
//! that froster-loader reads zero-copy. Format: docs/pack-format.md.
pub mod build;
pub mod discover;
pub mod encode;
mod error;
mod h264;
pub mod jpeg;
pub mod lists;
pub mod lock;
pub mod ops;
mod store;
pub mod writer;

pub use build::{build, BuildOptions, BuildSummary};
pub use discover::{discover, Dataset, DiscoverError};
pub use encode::EncodeOptions;
pub use error::{Error, Result, VideoError};
pub use lists::{ListSet, NamedList};
