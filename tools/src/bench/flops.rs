//! FLOPs of the model's towers (2 per multiply-add), for the step benchmarks' MFU.
use crate::error::Result;
use froster_model::{prompt_ids, ClipConfig, Tokenizer, BARE, CONTEXT};

/// Tokens per prompt that the MFU counts: up to the longest EOT, as a padded batch runs them (the trainer packs
/// prompts and runs fewer, about 41 of 64 for the K400 base names: its MFU is counted on the padded work).
pub fn text_tokens(classes: &[String]) -> Result<f64> {
    let ids = prompt_ids(&Tokenizer::new(), &[8, BARE], classes, CONTEXT)?;
    Ok((ids.argmax(-1, false).max().int64_value(&[]) + 1) as f64)
}

/// Forward FLOPs (2 per multiply-add) of one frame through a vision tower, with temporal keys (3L) or not.
pub fn vision_flops(c: &ClipConfig, temporal: bool) -> f64 {
    let (l, w) = ((c.grid() * c.grid() + 1) as f64, c.vision_width as f64);
    let keys = if temporal { 3.0 * l } else { l };
    c.vision_layers as f64 * (2.0 * l * 12.0 * w * w + 2.0 * 2.0 * l * keys * w)
}

/// Forward FLOPs of `prompts` prompts of `tokens` tokens through the text tower.
pub fn text_flops(c: &ClipConfig, prompts: f64, tokens: f64) -> f64 {
    let w = c.transformer_width as f64;
    prompts * c.transformer_layers as f64 * (2.0 * tokens * 12.0 * w * w + 2.0 * 2.0 * tokens * tokens * w)
}
