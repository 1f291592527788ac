//! froster-model: CLIP in tch with module paths that mirror OpenAI's keys, Open-VCLIP's temporal attention,
//! FROSTER's student/teacher/projectors, OpenAI's exact tokenizer, and safe checkpoint IO.
pub mod clip;
pub mod config;
pub mod error;
pub mod froster;
#[doc(hidden)]
pub mod golden;
pub mod pickle;
pub mod tokenizer;
pub mod weights;

pub use clip::{l2n, Clip};
pub use config::ClipConfig;
pub use error::{Error, Result};
pub use tch;
pub use tokenizer::Tokenizer;
