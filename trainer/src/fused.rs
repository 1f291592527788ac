//! CLIP's ops as froster-train runs them: froster-shim's fused ones where they apply (the same values as
//! [`Ops::EAGER`]), each standing aside where it cannot run.
use crate::ops_check::grad_distance;
use froster_model::{Ops, Packed};
use std::sync::OnceLock;
use tch::{Kind, Tensor};

/// froster-shim's fused QuickGELU, LayerNorm (alone and after a residual add), temporal attention and packed text
/// attention, or the eager ones (the same values).
pub fn ops(fused: bool) -> Ops {
    match fused {
        true => Ops {
            quick_gelu: froster_shim::fused_quick_gelu,
            layer_norm: froster_shim::fused_layer_norm,
            add_layer_norm: froster_shim::fused_add_layer_norm,
            temporal_attention: froster_shim::fused_temporal_attention,
            packed_attention,
        },
        false => Ops::EAGER,
    }
}

/// Packed causal attention by flash attention's variable-length kernel on CUDA in bf16/f16 (once it has matched
/// the eager ops on this process's first such call: [`packed_attention_check`]), by the eager scatter, attend
/// and gather elsewhere.
pub fn packed_attention(q: &Tensor, k: &Tensor, v: &Tensor, p: &Packed) -> Tensor {
    static AGREES: OnceLock<bool> = OnceLock::new();
    let flash = q.device().is_cuda() && matches!(q.kind(), Kind::BFloat16 | Kind::Half);
    if flash && *AGREES.get_or_init(|| packed_attention_check(q).is_empty()) {
        froster_shim::packed_attention(q, k, v, &p.offsets, p.max_len).unwrap_or_else(|e| panic!("{e}"))
    } else {
        froster_model::packed_attention(q, k, v, p)
    }
}

/// Flash's packed attention against the eager ops on `like`'s device and dtype: three sequences (one empty) of
/// 2 heads, output and the gradients of q, k and v, by norm within 2e-2; "" when they agree, else why not.
pub fn packed_attention_check(like: &Tensor) -> String {
    tch::with_grad(|| {
        let packed = Packed::new(&[5, 0, 11], 11, like.device());
        let total = packed.padded.size()[0];
        let gen = |k: f64| {
            let n = 2 * total * 64;
            (Tensor::arange(n, (Kind::Float, like.device())) * k).sin().view([1, 2, total, 64]).to_kind(like.kind())
        };
        let (q, k, v, g) = (gen(0.37), gen(0.11), gen(0.23), gen(0.7));
        let run =
            |attend: &dyn Fn(&Tensor, &Tensor, &Tensor) -> Result<Tensor, String>| -> Result<Vec<Tensor>, String> {
                let leaves: Vec<Tensor> = [&q, &k, &v].iter().map(|t| t.detach().set_requires_grad(true)).collect();
                let o = attend(&leaves[0], &leaves[1], &leaves[2])?;
                let loss = (&o * &g).to_kind(Kind::Float).sum(Kind::Float);
                let mut out = Tensor::run_backward(&[loss], &leaves.iter().collect::<Vec<_>>(), false, false);
                out.insert(0, o.detach());
                Ok(out)
            };
        let flash = run(&|q, k, v| {
            froster_shim::packed_attention(q, k, v, &packed.offsets, packed.max_len).map_err(|e| e.to_string())
        });
        let eager = run(&|q, k, v| Ok(froster_model::packed_attention(q, k, v, &packed)));
        match (flash, eager) {
            (Ok(f), Ok(e)) => agreement(&f, &e, &["output", "dq", "dk", "dv"], 2e-2),
            (Err(why), _) | (_, Err(why)) => why,
        }
    })
}

/// "" when each pair agrees within `tol` (relative, by norm), else the first that does not.
fn agreement(got: &[Tensor], want: &[Tensor], names: &[&str], tol: f64) -> String {
    for ((a, b), name) in got.iter().zip(want).zip(names) {
        let rel = grad_distance(&[b.shallow_clone()], &[a.shallow_clone()]);
        if rel.is_nan() || rel > tol {
            return format!("packed attention's {name} differs from the eager ops by {rel:.3e}");
        }
    }
    String::new()
}
