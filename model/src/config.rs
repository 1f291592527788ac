//! CLIP configurations: named presets, and inference from a checkpoint's shapes (as OpenAI's build_model).
use crate::error::{Error, Result};
use crate::tokenizer::{CONTEXT, VOCAB_SIZE};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use tch::Tensor;

/// A CLIP architecture, with the names of OpenAI's `build_model`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipConfig {
    /// Width of the joint image-text embedding.
    pub embed_dim: i64,
    /// Input frame size in pixels (square).
    pub image_resolution: i64,
    /// Vision transformer blocks.
    pub vision_layers: i64,
    /// Vision transformer width.
    pub vision_width: i64,
    /// CLIP uses vision_width / 64.
    pub vision_heads: i64,
    /// Patch size of the vision tower's convolution.
    pub vision_patch_size: i64,
    /// Tokens per prompt.
    pub context_length: i64,
    /// Token vocabulary size.
    pub vocab_size: i64,
    /// Text transformer width.
    pub transformer_width: i64,
    /// Text transformer heads.
    pub transformer_heads: i64,
    /// Text transformer blocks.
    pub transformer_layers: i64,
}

impl ClipConfig {
    /// OpenAI's ViT-B/32.
    pub fn vit_b32() -> Self {
        Self::vit(512, 224, 12, 768, 32, 512, 8, 12)
    }
    /// OpenAI's ViT-B/16 (the paper's model).
    pub fn vit_b16() -> Self {
        Self::vit(512, 224, 12, 768, 16, 512, 8, 12)
    }
    /// OpenAI's ViT-L/14.
    pub fn vit_l14() -> Self {
        Self::vit(768, 224, 24, 1024, 14, 768, 12, 12)
    }
    /// A tiny config for tests and the CPU demo.
    pub fn tiny() -> Self {
        Self::vit(32, 32, 2, 64, 8, 64, 1, 2)
    }

    #[allow(clippy::too_many_arguments)]
    fn vit(embed: i64, res: i64, vl: i64, vw: i64, patch: i64, tw: i64, th: i64, tl: i64) -> Self {
        ClipConfig {
            embed_dim: embed,
            image_resolution: res,
            vision_layers: vl,
            vision_width: vw,
            vision_heads: (vw / 64).max(1),
            vision_patch_size: patch,
            context_length: CONTEXT as i64,
            vocab_size: VOCAB_SIZE,
            transformer_width: tw,
            transformer_heads: th,
            transformer_layers: tl,
        }
    }

    /// A preset by name: `vit_b32`, `vit_b16`, `vit_l14` or `tiny` (case, `-`, `/` and `_` ignored).
    pub fn preset(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().replace(['-', '/', '_'], "").as_str() {
            "vitb32" => Ok(Self::vit_b32()),
            "vitb16" => Ok(Self::vit_b16()),
            "vitl14" => Ok(Self::vit_l14()),
            "tiny" => Ok(Self::tiny()),
            _ => Err(Error::UnknownPreset(name.into())),
        }
    }

    /// Patches per side of a frame.
    pub fn grid(&self) -> i64 {
        self.image_resolution / self.vision_patch_size
    }

    /// Infers the config from OpenAI-layout weights.
    pub fn from_weights(w: &HashMap<String, Tensor>) -> Result<Self> {
        let shape = |k: &str| w.get(k).map(|t| t.size()).ok_or_else(|| Error::MissingKey(k.into()));
        let count = |prefix: &str| {
            w.keys()
                .filter_map(|k| {
                    k.strip_prefix(prefix).and_then(|r| r.split('.').next()).and_then(|n| n.parse::<i64>().ok())
                })
                .max()
                .map(|m| m + 1)
                .unwrap_or(0)
        };
        let conv = shape("visual.conv1.weight")?;
        let pos = shape("visual.positional_embedding")?;
        let grid = (((pos[0] - 1) as f64).sqrt()).round() as i64;
        let tw = shape("ln_final.weight")?[0];
        let vocab = match w.get("token_embedding.weight") {
            Some(t) => t.size()[0],
            None => VOCAB_SIZE,
        };
        Ok(ClipConfig {
            embed_dim: shape("text_projection")?[1],
            image_resolution: conv[3] * grid,
            vision_layers: count("visual.transformer.resblocks."),
            vision_width: conv[0],
            vision_heads: (conv[0] / 64).max(1),
            vision_patch_size: conv[3],
            context_length: shape("positional_embedding")?[0],
            vocab_size: vocab,
            transformer_width: tw,
            transformer_heads: (tw / 64).max(1),
            transformer_layers: count("transformer.resblocks."),
        })
    }
}
