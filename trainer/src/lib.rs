//! froster-train: FROSTER's objective, AdamW, the LR schedule, one training step ([`step::Learner`]), the
//! train loop with exact resume, and evaluation scoring.
pub mod adamw;
pub mod build;
pub mod checkpoint;
pub mod config;
pub mod contrastive;
pub mod dist;
pub mod distill;
mod error;
pub mod eval;
pub mod feed;
pub mod fused;
pub mod graph;
pub mod input;
mod log;
pub mod lr;
pub mod ops_check;
pub mod prepare;
pub mod profile;
pub mod prompts;
mod report;
pub mod run_dir;
pub mod step;
mod tensorboard;
pub mod train;
pub mod validate;

pub use tensorboard::{crc32c, masked_crc};

pub use error::{Error, Result};
