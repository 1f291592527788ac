//! CLIP in tch. Module paths mirror OpenAI's state-dict keys (visual.transformer.resblocks.N.attn.in_proj_weight
//! ...). The vision tower optionally runs Open-VCLIP's temporal attention (`expand_temporal_view`), which adds
//! no parameters: the FROSTER student is this model with `temporal = Some(T)`.
use crate::config::ClipConfig;
use tch::nn::{self, Init};
use tch::{Kind, Tensor};

/// How a block's attention sees its keys.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Attention {
    /// Every token sees every token (the vision tower).
    Full,
    /// A token sees itself and the tokens before it (the text tower).
    Causal,
    /// Keys/values of frame t are [t+1, t-1, t] of the same clip of T frames, zero blocks at the clip ends
    /// (unmasked, as the reference: the zero keys still take softmax weight).
    Temporal(i64),
}

/// The ops CLIP's blocks run besides matmuls and attention: eager tch ops by default ([`Ops::EAGER`]);
/// froster-train swaps in froster-shim's on CUDA, which compute the same values with fewer kernels and keep less
/// for backward.
#[derive(Debug, Clone, Copy)]
pub struct Ops {
    /// QuickGELU, `x * sigmoid(1.702 x)`.
    pub quick_gelu: fn(&Tensor) -> Tensor,
    /// LayerNorm over the last dimension computed in f32 and returned in the input's dtype: (x, weight, bias, eps).
    pub layer_norm: fn(&Tensor, &Tensor, &Tensor, f64) -> Tensor,
    /// [`Attention::Temporal`]'s attention of (q, k, v, frames), each [N, heads, L, d].
    pub temporal_attention: fn(&Tensor, &Tensor, &Tensor, i64) -> Tensor,
}

impl Ops {
    /// tch's own ops.
    pub const EAGER: Ops = Ops { quick_gelu, layer_norm: layer_norm_f32, temporal_attention };
}

/// Attention of `q` to the keys and values of frames t+1, t-1 and t ([`temporal_kv`]), in eager ops.
pub fn temporal_attention(q: &Tensor, k: &Tensor, v: &Tensor, t: i64) -> Tensor {
    sdpa(q, &temporal_kv(k, t), &temporal_kv(v, t), false)
}

fn sdpa(q: &Tensor, k: &Tensor, v: &Tensor, causal: bool) -> Tensor {
    Tensor::scaled_dot_product_attention(q, k, v, None::<Tensor>, 0.0, causal, None, false)
}

/// QuickGELU, CLIP's activation: `x * sigmoid(1.702 x)`, in eager ops.
pub fn quick_gelu(x: &Tensor) -> Tensor {
    x * (x * 1.702).sigmoid()
}

/// LayerNorm computed in f32 whatever the input dtype, as CLIP's LayerNorm subclass, in eager ops.
pub fn layer_norm_f32(x: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> Tensor {
    let dim = *x.size().last().expect("LayerNorm of a 0-d tensor");
    let f = Kind::Float;
    x.to_kind(f).layer_norm([dim], Some(&weight.to_kind(f)), Some(&bias.to_kind(f)), eps, true).to_kind(x.kind())
}

/// A LayerNorm's parameters (`ln_*`), applied by [`Ops::layer_norm`].
pub(crate) struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
}

impl LayerNorm {
    pub(crate) fn new(p: nn::Path, dim: i64) -> Self {
        LayerNorm { weight: p.var("weight", &[dim], Init::Const(1.0)), bias: p.var("bias", &[dim], Init::Const(0.0)) }
    }
    pub(crate) fn forward(&self, x: &Tensor, ops: &Ops) -> Tensor {
        (ops.layer_norm)(x, &self.weight, &self.bias, 1e-5)
    }
}

/// One residual attention block: pre-LN attention, then pre-LN MLP with QuickGELU.
pub(crate) struct Block {
    heads: i64,
    in_w: Tensor,
    in_b: Tensor,
    out_w: Tensor,
    out_b: Tensor,
    ln_1: LayerNorm,
    fc_w: Tensor,
    fc_b: Tensor,
    proj_w: Tensor,
    proj_b: Tensor,
    ln_2: LayerNorm,
}

impl Block {
    pub(crate) fn new(p: nn::Path, width: i64, heads: i64, layers: i64) -> Self {
        let attn = &p / "attn";
        let mlp = &p / "mlp";
        let proj_std = (width as f64).powf(-0.5) * ((2 * layers) as f64).powf(-0.5);
        let attn_std = (width as f64).powf(-0.5);
        let fc_std = (2.0 * width as f64).powf(-0.5);
        let randn = |s: f64| Init::Randn { mean: 0.0, stdev: s };
        Block {
            heads,
            in_w: attn.var("in_proj_weight", &[3 * width, width], randn(attn_std)),
            in_b: attn.var("in_proj_bias", &[3 * width], Init::Const(0.0)),
            out_w: (&attn / "out_proj").var("weight", &[width, width], randn(proj_std)),
            out_b: (&attn / "out_proj").var("bias", &[width], Init::Const(0.0)),
            ln_1: LayerNorm::new(&p / "ln_1", width),
            fc_w: (&mlp / "c_fc").var("weight", &[4 * width, width], randn(fc_std)),
            fc_b: (&mlp / "c_fc").var("bias", &[4 * width], Init::Const(0.0)),
            proj_w: (&mlp / "c_proj").var("weight", &[width, 4 * width], randn(proj_std)),
            proj_b: (&mlp / "c_proj").var("bias", &[width], Init::Const(0.0)),
            ln_2: LayerNorm::new(&p / "ln_2", width),
        }
    }

    /// Self-attention of `x` ([N, L, W], batch first) before the residual add.
    pub(crate) fn attention(&self, x: &Tensor, mode: Attention, ops: &Ops) -> Tensor {
        let (n, l, w) = x.size3().unwrap();
        let d = w / self.heads;
        // Compute in the activations' dtype: f32 weights are cast on the fly for bf16 runs (master weights stay f32).
        let dt = x.kind();
        let qkv = x
            .linear(&self.in_w.to_kind(dt), Some(&self.in_b.to_kind(dt)))
            .view([n, l, 3, self.heads, d])
            .permute([2, 0, 3, 1, 4]);
        let (q, k, v) = (qkv.get(0), qkv.get(1), qkv.get(2));
        let o = match mode {
            Attention::Temporal(t) => (ops.temporal_attention)(&q, &k, &v, t),
            _ => sdpa(&q, &k, &v, mode == Attention::Causal),
        };
        o.transpose(1, 2).reshape([n, l, w]).linear(&self.out_w.to_kind(dt), Some(&self.out_b.to_kind(dt)))
    }

    pub(crate) fn forward(&self, x: &Tensor, mode: Attention, ops: &Ops) -> Tensor {
        let x = x + self.attention(&self.ln_1.forward(x, ops), mode, ops);
        let k = x.kind();
        let h = self.ln_2.forward(&x, ops).linear(&self.fc_w.to_kind(k), Some(&self.fc_b.to_kind(k)));
        x + (ops.quick_gelu)(&h).linear(&self.proj_w.to_kind(k), Some(&self.proj_b.to_kind(k)))
    }
}

/// [N, h, L, d] -> [N, h, 3L, d]: per frame, the keys of frames t+1, t-1 and t of its clip (zeros past the ends).
pub(crate) fn temporal_kv(k: &Tensor, t: i64) -> Tensor {
    let (n, h, l, d) = k.size4().unwrap();
    let k5 = k.view([n / t, t, h, l, d]);
    let zero = k5.narrow(1, 0, 1).zeros_like();
    let next = Tensor::cat(&[k5.narrow(1, 1, t - 1), zero.shallow_clone()], 1);
    let prev = Tensor::cat(&[zero, k5.narrow(1, 0, t - 1)], 1);
    Tensor::cat(&[next, prev, k5], 3).view([n, h, 3 * l, d])
}

/// A stack of residual attention blocks (`resblocks.N`).
pub struct Transformer {
    blocks: Vec<Block>,
    ops: Ops,
}

impl Transformer {
    pub(crate) fn new(p: nn::Path, width: i64, heads: i64, layers: i64) -> Self {
        let r = &p / "resblocks";
        let blocks = (0..layers).map(|i| Block::new(&r / i, width, heads, layers)).collect();
        Transformer { blocks, ops: Ops::EAGER }
    }

    /// The ops its blocks run (and the tower's other LayerNorms).
    pub fn ops(&self) -> Ops {
        self.ops
    }

    /// Replaces the ops (which must compute what [`Ops::EAGER`] computes).
    pub fn set_ops(&mut self, ops: Ops) {
        self.ops = ops;
    }
    /// Runs block `i` alone on `x` (conformance checks of intermediate activations).
    pub fn forward_block(&self, i: usize, x: &Tensor, mode: Attention) -> Tensor {
        self.blocks[i].forward(x, mode, &self.ops)
    }

    /// Runs every block on `x` ([N, L, W]).
    pub fn forward(&self, x: &Tensor, mode: Attention) -> Tensor {
        self.blocks.iter().fold(x.shallow_clone(), |x, b| b.forward(&x, mode, &self.ops))
    }
}

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
        self.ln_pre.forward(&x, &self.transformer.ops)
    }

    /// [N, 3, R, R] frames -> [N, D] unnormalised features. `temporal` = Some(T) gives the student's attention.
    pub fn forward(&self, x: &Tensor, temporal: Option<i64>) -> Tensor {
        let mode = temporal.map(Attention::Temporal).unwrap_or(Attention::Full);
        let x = self.transformer.forward(&self.embed(x), mode);
        let f = self.ln_post.forward(&x.select(1, 0), &self.transformer.ops).matmul(&self.proj.to_kind(self.kind()));
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

    /// [`Text::forward`] of ids already cut to a length that holds every EOT (a fixed one, e.g. the longest of all
    /// templates): every position runs and nothing waits for the device, so a CUDA graph can record it. The same
    /// features as uncut ids, for the same reason.
    pub fn forward_cut(&self, ids: &Tensor) -> Tensor {
        let (s, len) = (ids.size()[0], ids.size()[1]);
        let eot = ids.argmax(-1, false);
        let k = self.compute.unwrap_or(self.token_embedding.kind());
        let x = self.token_embedding.index_select(0, &ids.flatten(0, -1)).view([s, len, -1]).to_kind(k);
        let x = x + self.positional_embedding.narrow(0, 0, len).to_kind(k);
        let x = self.ln_final.forward(&self.transformer.forward(&x, Attention::Causal), &self.transformer.ops);
        // Row i's EOT token of the flattened [S * len, W]: a plain gather whose backward is an index_add.
        let at = Tensor::arange(s, (Kind::Int64, ids.device())) * len + eot;
        let f = x.flatten(0, 1).index_select(0, &at).matmul(&self.text_projection.to_kind(k));
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
}

/// Row-wise L2 normalisation.
pub fn l2n(x: &Tensor) -> Tensor {
    x / x.norm_scalaropt_dim(2, [-1], true)
}
