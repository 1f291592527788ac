//! froster-loader: streams augmented 8x16 video clips for FROSTER training from packs (zero-copy, memory-mapped,
//! checksummed) or straight from video files through GStreamer. It does not depend on libtorch.
//!
//! ```no_run
//! use froster_loader::{Loader, LoaderConfig, PackReader, PackSource};
//! use std::sync::Arc;
//!
//! fn main() -> Result<(), froster_loader::Error> {
//!     let reader = Arc::new(PackReader::open("packs/k400")?);
//!     let source = Arc::new(PackSource::new(reader, "train")?);
//!     let cfg = LoaderConfig { batch_size: 8, workers: 4, seed: 0, epoch: 0, ..Default::default() };
//!     for batch in Loader::new(source, cfg)? {
//!         let batch = batch?;
//!         // batch.u8 is (B, 8, 224, 224, 3) uint8; batch.labels holds the class ids.
//!         println!("{:?} {:?}", batch.shape, batch.labels);
//!     }
//!     Ok(())
//! }
//! ```
pub mod augment;
pub mod container;
#[cfg(feature = "video")]
pub mod decode;
pub mod dist;
pub mod error;
pub mod format;
pub mod list;
pub mod pipeline;
pub mod reader;
pub mod rng;
pub mod sampling;
pub mod source;

pub use error::{Error, Result};
pub use pipeline::{Batch, Loader, LoaderConfig, Mode, Output};
pub use reader::PackReader;
pub use sampling::{SamplingConfig, StreamInfo};
#[cfg(feature = "video")]
pub use source::VideoSource;
pub use source::{ClipSource, Layout, PackSource, Scratch};
