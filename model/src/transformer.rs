//! CLIP's residual attention blocks (`transformer.resblocks.N`), shared by both towers, and the [`Ops`] they run.
//!
//! Two things differ from a literal transcription, both computing the same values:
//! - Each residual add is handed to the LayerNorm that reads it ([`Ops::add_layer_norm`]), so a fused op can
//!   write the sum and its normalisation in one pass.
//! - A tower that pools one token per sequence (vision: the class token, text: the EOT) runs the last block's
//!   output projection, residual and MLP on those rows only ([`Transformer::forward_pooled`]): nothing else
//!   of the last block reaches the features (about two thirds of one block's work).
use crate::packed::Packed;
use tch::nn::{self, Init};
use tch::{Kind, Tensor};

/// How a block's attention sees its keys.
#[derive(Debug, Clone, Copy)]
pub enum Attention<'a> {
    /// Every token sees every token (the vision tower).
    Full,
    /// A token sees itself and the tokens before it (the text tower).
    Causal,
    /// Keys/values of frame t are [t+1, t-1, t] of the same clip of T frames, zero blocks at the clip ends
    /// (unmasked, as the reference: the zero keys still take softmax weight).
    Temporal(i64),
    /// Causal within each of the sequences packed end to end in one row ([`Packed`]).
    Packed(&'a Packed),
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
    /// A residual add and the LayerNorm of its sum: (x, r, weight, bias, eps) -> (x + r, layer_norm(x + r)).
    pub add_layer_norm: fn(&Tensor, &Tensor, &Tensor, &Tensor, f64) -> (Tensor, Tensor),
    /// [`Attention::Temporal`]'s attention of (q, k, v, frames), each [N, heads, L, d].
    pub temporal_attention: fn(&Tensor, &Tensor, &Tensor, i64) -> Tensor,
    /// [`Attention::Packed`]'s attention of (q, k, v, sequences), each [1, heads, T, d].
    pub packed_attention: fn(&Tensor, &Tensor, &Tensor, &Packed) -> Tensor,
}

impl Ops {
    /// tch's own ops.
    pub const EAGER: Ops =
        Ops { quick_gelu, layer_norm: layer_norm_f32, add_layer_norm, temporal_attention, packed_attention };
}

/// Attention of `q` to the keys and values of frames t+1, t-1 and t ([`temporal_kv`]), in eager ops.
pub fn temporal_attention(q: &Tensor, k: &Tensor, v: &Tensor, t: i64) -> Tensor {
    sdpa(q, &temporal_kv(k, t), &temporal_kv(v, t), false)
}

/// Causal attention within each packed sequence, in eager ops: q, k, v [1, h, T, d] are scattered into the padded
/// layout [seqs, h, max_len, d] (zeros after each sequence's end, which causal attention never lets earlier
/// tokens see), attended there, and gathered back.
pub fn packed_attention(q: &Tensor, k: &Tensor, v: &Tensor, p: &Packed) -> Tensor {
    let (_, h, _, d) = q.size4().unwrap();
    let unpack = |x: &Tensor| {
        let rows = x.select(0, 0).transpose(0, 1); // [T, h, d]
        let pad = Tensor::zeros([p.seqs * p.max_len, h, d], (x.kind(), x.device())).index_copy(0, &p.padded, &rows);
        pad.view([p.seqs, p.max_len, h, d]).transpose(1, 2)
    };
    let o = sdpa(&unpack(q), &unpack(k), &unpack(v), true).transpose(1, 2).reshape([p.seqs * p.max_len, h, d]);
    o.index_select(0, &p.padded).transpose(0, 1).unsqueeze(0)
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

/// The residual add `x + r` (in the activations' dtype) and [`layer_norm_f32`] of it, in eager ops.
pub fn add_layer_norm(x: &Tensor, r: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> (Tensor, Tensor) {
    let s = x + r;
    let y = layer_norm_f32(&s, weight, bias, eps);
    (s, y)
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
    /// `x + r` and this LayerNorm of it, by [`Ops::add_layer_norm`].
    fn add_forward(&self, x: &Tensor, r: &Tensor, ops: &Ops) -> (Tensor, Tensor) {
        (ops.add_layer_norm)(x, r, &self.weight, &self.bias, 1e-5)
    }
}

/// The residual stream between blocks: its value so far and the branch output not yet added to it (the next
/// block's first LayerNorm adds it, [`Ops::add_layer_norm`]).
struct Stream {
    x: Tensor,
    pending: Option<Tensor>,
}

impl Stream {
    fn sum(self) -> Tensor {
        match self.pending {
            Some(r) => self.x + r,
            None => self.x,
        }
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

    /// Multi-head self-attention of `x` ([N, L, W], batch first), heads concatenated, before the output
    /// projection.
    fn heads(&self, x: &Tensor, mode: Attention, ops: &Ops) -> Tensor {
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
            Attention::Packed(p) => (ops.packed_attention)(&q, &k, &v, p),
            Attention::Full => sdpa(&q, &k, &v, false),
            Attention::Causal => sdpa(&q, &k, &v, true),
        };
        o.transpose(1, 2).reshape([n, l, w])
    }

    fn out_proj(&self, o: &Tensor) -> Tensor {
        let dt = o.kind();
        o.linear(&self.out_w.to_kind(dt), Some(&self.out_b.to_kind(dt)))
    }

    fn mlp(&self, h: &Tensor, ops: &Ops) -> Tensor {
        let k = h.kind();
        let h = h.linear(&self.fc_w.to_kind(k), Some(&self.fc_b.to_kind(k)));
        (ops.quick_gelu)(&h).linear(&self.proj_w.to_kind(k), Some(&self.proj_b.to_kind(k)))
    }

    /// The stream with its pending branch added, and ln_1 of it.
    fn enter(&self, s: Stream, ops: &Ops) -> (Tensor, Tensor) {
        match s.pending {
            Some(r) => self.ln_1.add_forward(&s.x, &r, ops),
            None => {
                let h = self.ln_1.forward(&s.x, ops);
                (s.x, h)
            }
        }
    }

    /// The block on every token; its MLP output is left pending.
    fn forward(&self, s: Stream, mode: Attention, ops: &Ops) -> Stream {
        let (x, h) = self.enter(s, ops);
        let (x, h) = self.ln_2.add_forward(&x, &self.out_proj(&self.heads(&h, mode, ops)), ops);
        Stream { pending: Some(self.mlp(&h, ops)), x }
    }

    /// The block's output at rows `rows` of the flattened [N * L, W] tokens only: attention still sees every
    /// token, everything after it runs on those rows.
    fn forward_rows(&self, s: Stream, mode: Attention, ops: &Ops, rows: &Tensor) -> Tensor {
        let (x, h) = self.enter(s, ops);
        let pick = |t: &Tensor| t.flatten(0, 1).index_select(0, rows);
        let a = self.out_proj(&pick(&self.heads(&h, mode, ops)));
        let (x, h) = self.ln_2.add_forward(&pick(&x), &a, ops);
        x + self.mlp(&h, ops)
    }
}

/// A stack of residual attention blocks (`resblocks.N`).
pub struct Transformer {
    blocks: Vec<Block>,
    ops: Ops,
    pooled_last_block: bool,
}

impl Transformer {
    pub(crate) fn new(p: nn::Path, width: i64, heads: i64, layers: i64) -> Self {
        let r = &p / "resblocks";
        let blocks = (0..layers).map(|i| Block::new(&r / i, width, heads, layers)).collect();
        Transformer { blocks, ops: Ops::EAGER, pooled_last_block: true }
    }

    /// The ops its blocks run (and the tower's other LayerNorms).
    pub fn ops(&self) -> Ops {
        self.ops
    }

    /// Replaces the ops (which must compute what [`Ops::EAGER`] computes).
    pub fn set_ops(&mut self, ops: Ops) {
        self.ops = ops;
    }

    /// Whether [`Transformer::forward_pooled`] runs the last block past its attention on the pooled rows only
    /// (the default) or on every token (the same values; a switch for benchmarks).
    pub fn set_pooled_last_block(&mut self, on: bool) {
        self.pooled_last_block = on;
    }

    /// Runs block `i` alone on `x` (conformance checks of intermediate activations).
    pub fn forward_block(&self, i: usize, x: &Tensor, mode: Attention) -> Tensor {
        self.blocks[i].forward(Stream { x: x.shallow_clone(), pending: None }, mode, &self.ops).sum()
    }

    /// Runs every block on `x` ([N, L, W]).
    pub fn forward(&self, x: &Tensor, mode: Attention) -> Tensor {
        self.run(&self.blocks, x, mode).sum()
    }

    /// Every block's output at rows `rows` (int64) of the flattened [N * L, W] tokens: [rows, W], what
    /// `forward(x).flatten(0, 1).index_select(0, rows)` gives.
    pub fn forward_pooled(&self, x: &Tensor, mode: Attention, rows: &Tensor) -> Tensor {
        match self.blocks.split_last() {
            Some((last, first)) if self.pooled_last_block => {
                last.forward_rows(self.run(first, x, mode), mode, &self.ops, rows)
            }
            _ => self.forward(x, mode).flatten(0, 1).index_select(0, rows),
        }
    }

    fn run(&self, blocks: &[Block], x: &Tensor, mode: Attention) -> Stream {
        let start = Stream { x: x.shallow_clone(), pending: None };
        blocks.iter().fold(start, |s, b| b.forward(s, mode, &self.ops))
    }
}
