//! CLIP in tch. Module paths mirror OpenAI's state-dict keys (visual.transformer.resblocks.N.attn.in_proj_weight
//! ...). The vision tower optionally runs Open-VCLIP's temporal attention (`expand_temporal_view`), which adds
//! no parameters: the FROSTER student is this model with `temporal = Some(T)`.
use crate::config::ClipConfig;
use crate::packed::PackedText;
use crate::transformer::{Attention, LayerNorm, Ops, Transformer};
use tch::nn::{self, Init};
use tch::{Kind, Tensor};

/// The vision tower (`visual.*`): patch embedding, transformer, projection.
pub struct Visual {
    patch: i64,
    conv1: Tensor,
    class_embedding: Tensor,
    positional_embedding: Tensor,
    ln_pre: LayerNorm,
    /// The blocks.
    pub transformer: Transformer,
    ln_post: LayerNorm,
    proj: Tensor,
    /// Compute dtype (None: the weights' own); features come out as f32 when set.
    pub compute: Option<Kind>,
}

impl Visual {
    /// The tower under `p` (OpenAI's `visual`), randomly initialised as CLIP.
    pub fn new(p: nn::Path, c: &ClipConfig) -> Self {
        let w = c.vision_width;
        let scale = (w as f64).powf(-0.5);
        let g = c.grid();
        Visual {
            patch: c.vision_patch_size,
            conv1: (&p / "conv1").var(
                "weight",
                &[w, 3, c.vision_patch_size, c.vision_patch_size],
                Init::Randn { mean: 0.0, stdev: 0.02 },
            ),
            class_embedding: p.var("class_embedding", &[w], Init::Randn { mean: 0.0, stdev: scale }),
            positional_embedding: p.var(
                "positional_embedding",
                &[g * g + 1, w],
                Init::Randn { mean: 0.0, stdev: scale },
            ),
            ln_pre: LayerNorm::new(&p / "ln_pre", w),
            transformer: Transformer::new(&p / "transformer", w, c.vision_heads, c.vision_layers),
            ln_post: LayerNorm::new(&p / "ln_post", w),
            proj: p.var("proj", &[w, c.embed_dim], Init::Randn { mean: 0.0, stdev: scale }),
            compute: None,
        }
    }

    fn kind(&self) -> Kind {
        self.compute.unwrap_or(self.conv1.kind())
    }

    /// Tokens after ln_pre: [N, L, W].
    pub fn embed(&self, x: &Tensor) -> Tensor {
        let k = self.kind();
        let x =
            x.to_kind(k).conv2d(&self.conv1.to_kind(k), None::<Tensor>, [self.patch, self.patch], [0, 0], [1, 1], 1);
        let (n, w, _, _) = x.size4().unwrap();
        let x = x.reshape([n, w, -1]).permute([0, 2, 1]);
        let cls = self.class_embedding.to_kind(k).view([1, 1, w]).expand([n, 1, w], false);
        let x = Tensor::cat(&[cls, x], 1) + self.positional_embedding.to_kind(k);
        self.ln_pre.forward(&x, &self.transformer.ops())
    }

    /// [N, 3, R, R] frames -> [N, D] unnormalised features. `temporal` = Some(T) gives the student's attention.
    pub fn forward(&self, x: &Tensor, temporal: Option<i64>) -> Tensor {
        let mode = temporal.map(Attention::Temporal).unwrap_or(Attention::Full);
        let x = self.embed(x);
        let (n, l, _) = x.size3().unwrap();
        // The class token of each frame: row i * L of the flattened tokens.
        let cls = Tensor::arange(n, (Kind::Int64, x.device())) * l;
        let x = self.transformer.forward_pooled(&x, mode, &cls);
        let f = self.ln_post.forward(&x, &self.transformer.ops()).matmul(&self.proj.to_kind(self.kind()));
        if self.compute.is_some() {
            f.to_kind(Kind::Float)
        } else {
            f
        }
    }
}

/// The text tower (token and positional embeddings, causal transformer, projection at the EOT).
pub struct Text {
    token_embedding: Tensor,
    positional_embedding: Tensor,
    /// The blocks.
    pub transformer: Transformer,
    ln_final: LayerNorm,
    text_projection: Tensor,
    /// Compute dtype (None: the weights' own); features come out as f32 when set.
    pub compute: Option<Kind>,
}

impl Text {
    /// The tower at the root of `p` (OpenAI keeps its keys unprefixed), randomly initialised as CLIP.
    pub fn new(p: &nn::Path, c: &ClipConfig) -> Self {
        let w = c.transformer_width;
        Text {
            token_embedding: (p / "token_embedding").var(
                "weight",
                &[c.vocab_size, w],
                Init::Randn { mean: 0.0, stdev: 0.02 },
            ),
            positional_embedding: p.var(
                "positional_embedding",
                &[c.context_length, w],
                Init::Randn { mean: 0.0, stdev: 0.01 },
            ),
            transformer: Transformer::new(p / "transformer", w, c.transformer_heads, c.transformer_layers),
            ln_final: LayerNorm::new(p / "ln_final", w),
            text_projection: p.var(
                "text_projection",
                &[w, c.embed_dim],
                Init::Randn { mean: 0.0, stdev: (w as f64).powf(-0.5) },
            ),
            compute: None,
        }
    }

    /// [S, 77] token ids -> [S, D] unnormalised features, pooled at the EOT (largest id, first occurrence).
    /// The sequence is cut after the longest EOT: exact, because attention is causal.
    pub fn forward(&self, ids: &Tensor) -> Tensor {
        let len = (ids.argmax(-1, false).max().int64_value(&[]) + 1).min(ids.size()[1]);
        self.forward_cut(&ids.narrow(1, 0, len))
    }

    /// [`Text::forward`] of prompts packed end to end ([`crate::PackedLayout::text`]): the same features, with
    /// the linear layers run on the prompts' own tokens only and nothing waiting for the device.
    pub fn forward_packed(&self, text: &PackedText) -> Tensor {
        let k = self.compute.unwrap_or(self.token_embedding.kind());
        let position = text.packed.padded.remainder(text.packed.max_len);
        let x = self.token_embedding.index_select(0, &text.ids).to_kind(k)
            + self.positional_embedding.index_select(0, &position).to_kind(k);
        self.project(&self.transformer.forward_pooled(&x.unsqueeze(0), Attention::Packed(&text.packed), &text.eot))
    }

    /// [`Text::forward`] of ids already cut to a length that holds every EOT (a fixed one, e.g. the longest of all
    /// templates): every position runs and nothing waits for the device, so a CUDA graph can record it. The same
    /// features as uncut ids, for the same reason.
    pub fn forward_cut(&self, ids: &Tensor) -> Tensor {
        let (s, len) = (ids.size()[0], ids.size()[1]);
        let eot = ids.argmax(-1, false);
        let k = self.compute.unwrap_or(self.token_embedding.kind());
        let x = self.token_embedding.index_select(0, &ids.flatten(0, -1)).view([s, len, -1]).to_kind(k);
        let x = x + self.positional_embedding.narrow(0, 0, len).to_kind(k);
        // Row i's EOT token of the flattened [S * len, W]: a plain gather whose backward is an index_add.
        let at = Tensor::arange(s, (Kind::Int64, ids.device())) * len + eot;
        self.project(&self.transformer.forward_pooled(&x, Attention::Causal, &at))
    }

    /// The EOT tokens' features [S, D] from their last-block outputs [S, W]: ln_final, projection, f32 when the
    /// compute dtype is set.
    fn project(&self, eot: &Tensor) -> Tensor {
        let k = self.compute.unwrap_or(self.token_embedding.kind());
        let f = self.ln_final.forward(eot, &self.transformer.ops()).matmul(&self.text_projection.to_kind(k));
        if self.compute.is_some() {
            f.to_kind(Kind::Float)
        } else {
            f
        }
    }
}

/// CLIP: both towers and the learned logit scale, with OpenAI's key layout under `p`.
pub struct Clip {
    /// The architecture.
    pub config: ClipConfig,
    /// The vision tower.
    pub visual: Visual,
    /// The text tower.
    pub text: Text,
    /// log(1 / temperature); logits are `exp(logit_scale) * cos`.
    pub logit_scale: Tensor,
}

impl Clip {
    /// A randomly initialised CLIP under `p`; load weights with [`crate::weights::apply`].
    pub fn new(p: &nn::Path, config: &ClipConfig) -> Self {
        Clip {
            visual: Visual::new(p / "visual", config),
            text: Text::new(p, config),
            logit_scale: p.var("logit_scale", &[], Init::Const((1.0f64 / 0.07).ln())),
            config: config.clone(),
        }
    }
    /// Frames [N, 3, R, R] -> features [N, D]; `temporal = Some(T)` is the student's temporal attention over
    /// clips of T consecutive frames.
    pub fn encode_image(&self, x: &Tensor, temporal: Option<i64>) -> Tensor {
        self.visual.forward(x, temporal)
    }
    /// Token ids [S, 77] -> features [S, D].
    pub fn encode_text(&self, ids: &Tensor) -> Tensor {
        self.text.forward(ids)
    }

    /// [`Clip::encode_text`] of ids cut to a length holding every EOT, without waiting for the device
    /// ([`Text::forward_cut`]).
    pub fn encode_text_cut(&self, ids: &Tensor) -> Tensor {
        self.text.forward_cut(ids)
    }

    /// [`Clip::encode_text`] of prompts packed end to end ([`Text::forward_packed`]).
    pub fn encode_text_packed(&self, text: &PackedText) -> Tensor {
        self.text.forward_packed(text)
    }

    /// Runs both towers in `kind` (e.g. bf16 on CUDA) over the stored (f32 master) weights; features stay f32.
    pub fn set_compute(&mut self, kind: Option<Kind>) {
        self.visual.compute = kind;
        self.text.compute = kind;
    }

    /// Both towers' [`Ops`].
    pub fn set_ops(&mut self, ops: Ops) {
        self.visual.transformer.set_ops(ops);
        self.text.transformer.set_ops(ops);
    }

    /// Both towers' [`Transformer::set_pooled_last_block`].
    pub fn set_pooled_last_block(&mut self, on: bool) {
        self.visual.transformer.set_pooled_last_block(on);
        self.text.transformer.set_pooled_last_block(on);
    }
}

/// Row-wise L2 normalisation.
pub fn l2n(x: &Tensor) -> Tensor {
    x / x.norm_scalaropt_dim(2, [-1], true)
}
