//! froster-train: FROSTER's objective, AdamW, the LR schedule, one training step ([`step::Learner`]), the
//! train loop with exact resume, and evaluation scoring.
pub mod adamw;
pub mod build;
pub mod checkpoint;
pub mod config;
pub mod distill;
mod error;
pub mod eval;
pub mod input;
pub mod lr;
pub mod step;
pub mod train;

pub use error::{Error, Result};
