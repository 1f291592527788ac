//! froster-model: CLIP in tch with module paths that mirror OpenAI's keys, Open-VCLIP's temporal attention,
//! FROSTER's student/teacher/projectors, OpenAI's exact tokenizer, and safe checkpoint IO.
//!
//! Videos enter the model as normalised float tensors `[B, T, 3, H, W]` (frames first, as the loader's clips
//! after one permute), and the vision tower sees them as `[B*T, 3, H, W]` with no further copy.
#![deny(missing_docs)]
mod clip;
mod config;
mod device;
mod error;
mod froster;
pub mod layout;
mod packed;
mod pickle;
mod tokenizer;
mod transformer;
pub mod weights;

pub use clip::{l2n, Clip, Text, Visual};
pub use config::ClipConfig;
pub use device::parse_device;
pub use error::{Error, Result};
pub use froster::{
    classifier, frames_of, prompt, prompt_ids, Projector, Student, Teacher, BARE, NUM_TEMPLATES, TEMPLATES,
};
pub use packed::{Packed, PackedLayout, PackedText};
pub use pickle::check_plain_pickle;
pub use tch;
pub use tokenizer::{TokenizeError, Tokenizer, CONTEXT, EOT, SOT, VOCAB_SIZE};
pub use transformer::{
    add_layer_norm, layer_norm_f32, packed_attention, quick_gelu, temporal_attention, Attention, Ops, Transformer,
};
pub use weights::Weights;
