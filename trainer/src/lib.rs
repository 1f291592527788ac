//! froster-train: FROSTER's objective, AdamW, the LR schedule, the train loop with exact resume, and evaluation.
pub mod adamw;
pub mod average;
pub mod build;
pub mod distill;
pub mod eval;
pub mod lr;
