#![deny(missing_docs)]
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
mod augment;
mod classes;
mod container;
#[cfg(feature = "video")]
mod decode;
#[cfg(feature = "video")]
mod decode_errors;
mod dist;
mod error;
pub mod format;
pub mod h264;
pub mod jpeg;
mod list;
mod pipeline;
mod reader;
mod rng;
mod sampling;
mod settings;
mod source;
#[cfg(test)]
mod unit_tests;
mod validate;

pub use classes::read_classes;
pub use container::{probe, ContainerInfo};
#[cfg(feature = "video")]
pub use decode::{decode, decode_timed, DecodeOptions, DecodedInfo};
pub use dist::{epoch_indices, EpochOrder, Shard};
pub use error::{Error, Result};
pub use list::{list_name, parse_list, read_list};
pub use pipeline::{clips_per_epoch, Batch, Loader, LoaderConfig, Mode, Output, Recycler, Waited, CLIP_MEAN, CLIP_STD};
pub use reader::{ListCounts, PackReader};
pub use rng::Rng;
pub use sampling::{
    get_start_end_idx, linspace_f32, nearest_stored, sample, sample_decode_all, temporal_indices, SamplingConfig,
    Start, StreamInfo, Window,
};
#[cfg(feature = "video")]
pub use source::VideoSource;
pub use source::{ClipSource, Layout, PackSource, Scratch};

/// For the tools' `main`: `Ok` is exit code 0; an error is printed as one line (`error: ...` and each cause that
/// its text does not already say, whatever RUST_BACKTRACE says) and exit code 1.
pub fn exit_code<E>(result: std::result::Result<(), E>) -> std::process::ExitCode
where
    E: AsRef<dyn std::error::Error + Send + Sync + 'static>,
{
    let Err(e) = result else { return std::process::ExitCode::SUCCESS };
    let e = e.as_ref();
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !line.contains(&text) {
            line = format!("{line}: {text}");
        }
        cause = c.source();
    }
    eprintln!("error: {line}");
    std::process::ExitCode::FAILURE
}
