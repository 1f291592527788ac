//! `froster-bench kernels`: froster-shim's fused ops against the eager ops they replace, on a device: for
//! QuickGELU the largest differences of values and gradients from an f64 reference (the GPU check of the CUDA
//! kernels; the CPU path is tested in shim/tests), for the f32 LayerNorm (alone, and after a residual add) the same
//! for values and the gradients of input, weight and bias; for the temporal attention op its self-check against
//! the eager ops, and for the packed text attention its check; ms per forward+backward; and all of them at once
//! inside a tiny CLIP (loss and gradients), at the shapes of ViT-B/16's MLP and residual stream.
use crate::error::Result;
use froster_model::{quick_gelu, Ops, Packed};
use froster_train::ops_check::{grad_distance, tiny_clip};
use froster_train::step::ops;
use serde_json::json;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// One JSON line per dtype: errors, tolerance, pass, and timings.
pub fn run(rows: i64, width: i64, reps: usize, device: Device) -> Result<Vec<serde_json::Value>> {
    tch::manual_seed(0);
    let mut lines = Vec::new();
    for (kind, tol) in [(Kind::Float, 1e-5), (Kind::BFloat16, 1e-2), (Kind::Half, 2e-3)] {
        let x = (Tensor::randn([rows, width], (Kind::Float, device)) * 3.0).to_kind(kind);
        let g = Tensor::randn([rows, width], (Kind::Float, device)).to_kind(kind);
        let (yf, df) = forward_backward(froster_shim::fused_quick_gelu, &x, &g);
        let (ye, de) = forward_backward(quick_gelu, &x, &g);
        // Against the f64 formula: the fused kernel rounds once, eager rounds after each op.
        let (y64, d64) = forward_backward(quick_gelu, &x.to_kind(Kind::Double), &g.to_kind(Kind::Double));
        let rel = |a: &Tensor, b: &Tensor| {
            let d = (a.to_kind(Kind::Double) - b).abs().max().double_value(&[]);
            d / (1.0 + b.abs().max().double_value(&[]))
        };
        let (fused_y, fused_d, eager_y, eager_d) = (rel(&yf, &y64), rel(&df, &d64), rel(&ye, &y64), rel(&de, &d64));
        lines.push(json!({"bench": "kernels", "op": "quick_gelu", "device": format!("{device:?}"),
            "dtype": format!("{kind:?}"), "shape": [rows, width], "status": froster_shim::kernels_status(),
            "fused_rel_err": [fused_y, fused_d], "eager_rel_err": [eager_y, eager_d], "tolerance": tol,
            "ok": fused_y <= tol && fused_d <= tol,
            "fused_ms": time(froster_shim::fused_quick_gelu, &x, &g, reps), "eager_ms": time(quick_gelu, &x, &g, reps)}));
    }
    lines.push(layer_norm(rows, width / 4, reps, device, false));
    lines.push(layer_norm(rows, width / 4, reps, device, true));
    lines.push(temporal_attention(rows, width / 4, reps, device));
    lines.push(packed_attention(reps, device));
    lines.push(clip_ops(device));
    Ok(lines)
}

/// Every fused op at once inside the tiny CLIP (both towers, the student's temporal attention over clips of 4
/// frames): the loss and all weights' gradients in bf16 with the fused and with the eager ops, each as far from
/// the eager f32 result as the other, up to bf16 noise (trainer/tests/fused_ops.rs asserts the same on the CPU).
fn clip_ops(device: Device) -> serde_json::Value {
    let run = |compute: Option<Kind>, ops: Ops| tiny_clip(device, compute, ops);
    let all = || -> Result<serde_json::Value> {
        let (reference, ref_grads) = run(None, Ops::EAGER)?;
        let (le, ge) = run(Some(Kind::BFloat16), Ops::EAGER)?;
        let (lf, gf) = run(Some(Kind::BFloat16), ops(true))?;
        let (loss_eager, loss_fused) = ((le - reference).abs(), (lf - reference).abs());
        let (grad_eager, grad_fused) = (grad_distance(&ref_grads, &ge), grad_distance(&ref_grads, &gf));
        let ok = loss_fused <= 2.0 * loss_eager + reference.abs() / 256.0 && grad_fused <= 2.0 * grad_eager + 1e-3;
        Ok(json!({"loss_f32": reference, "loss_from_f32": {"eager_bf16": loss_eager, "fused_bf16": loss_fused},
            "grads_from_f32": {"eager_bf16": grad_eager, "fused_bf16": grad_fused}, "ok": ok}))
    };
    let mut line = all().unwrap_or_else(|e| json!({"ok": false, "error": e.to_string()}));
    line["bench"] = "kernels".into();
    line["op"] = "all fused ops in CLIP (tiny)".into();
    line["device"] = format!("{device:?}").into();
    line["status"] = froster_shim::kernels_status().into();
    line
}

/// The temporal attention op (keeps q, k, v; CUDA gather and fold kernels) against the eager ops: its self-check
/// on this device (values and gradients, by norm) and ms per forward + backward, in bf16 at the shapes of `rows`
/// tokens of a `width`-wide transformer (clips of 8 frames of 197 tokens where rows allow, heads of 64).
fn temporal_attention(rows: i64, width: i64, reps: usize, device: Device) -> serde_json::Value {
    let (t, d) = (8, 64);
    let l = if rows >= t * 197 { 197 } else { (rows / t).max(1) };
    let (n, h) = ((rows / l / t).max(1) * t, (width / d).max(1));
    let qkv = Tensor::randn([n, l, 3, h, d], (Kind::Float, device)).to_kind(Kind::BFloat16);
    let g = Tensor::randn([n, h, l, d], (Kind::Float, device)).to_kind(Kind::BFloat16);
    let ms = |attn: fn(&Tensor, &Tensor, &Tensor, i64) -> Tensor| {
        ms_per_rep(reps, || {
            let x = qkv.detach().set_requires_grad(true);
            let p = x.permute([2, 0, 3, 1, 4]);
            let o = attn(&p.get(0), &p.get(1), &p.get(2), t);
            let dx = Tensor::run_backward(&[(&o * &g).sum(Kind::Float)], &[&x], false, false);
            let _ = dx[0].get(0).get(0).get(0).double_value(&[0, 0]);
        })
    };
    let check = froster_shim::temporal_attention_self_check(&g);
    let p = qkv.permute([2, 0, 3, 1, 4]);
    json!({"bench": "kernels", "op": "temporal_attention", "device": format!("{device:?}"), "dtype": "BFloat16",
        "shape": [n, h, l, d], "frames": t, "status": froster_shim::kernels_status(),
        "keeps_less": froster_shim::temporal_attention_keeps_less(&p.get(0), &p.get(1), &p.get(2)),
        "ok": check.is_empty(), "self_check": check,
        "fused_ms": ms(froster_shim::fused_temporal_attention), "eager_ms": ms(froster_model::temporal_attention)})
}

/// The student's packed text attention (flash's variable-length kernel on CUDA) against the eager scatter, attend
/// and gather: its check on this device (values and gradients, by norm; CUDA only, the eager ops run elsewhere) and
/// ms per forward + backward, in bf16 at ViT-B/16's text shapes (400 prompts of 8 to 64 tokens, 8 heads of 64).
fn packed_attention(reps: usize, device: Device) -> serde_json::Value {
    let lens: Vec<i64> = (0..400).map(|i| 8 + (i * 37) % 57).collect();
    let packed = Packed::new(&lens, *lens.iter().max().unwrap_or(&1), device);
    let total = packed.padded.size()[0];
    let qkv = Tensor::randn([3, 1, 8, total, 64], (Kind::Float, device)).to_kind(Kind::BFloat16);
    let g = Tensor::randn([1, 8, total, 64], (Kind::Float, device)).to_kind(Kind::BFloat16);
    let ms = |attn: fn(&Tensor, &Tensor, &Tensor, &Packed) -> Tensor| {
        ms_per_rep(reps, || {
            let x = qkv.detach().set_requires_grad(true);
            let o = attn(&x.get(0), &x.get(1), &x.get(2), &packed);
            let dx = Tensor::run_backward(&[(&o * &g).sum(Kind::Float)], &[&x], false, false);
            let _ = dx[0].get(0).get(0).get(0).double_value(&[0, 0]);
        })
    };
    let check = match device.is_cuda() {
        true => froster_train::fused::packed_attention_check(&g),
        false => String::new(),
    };
    json!({"bench": "kernels", "op": "packed_attention", "device": format!("{device:?}"), "dtype": "BFloat16",
        "tokens": total, "prompts": lens.len(), "flash": device.is_cuda() && check.is_empty(),
        "ok": check.is_empty(), "self_check": if device.is_cuda() { check } else { "CUDA only: the eager ops run here".into() },
        "fused_ms": ms(froster_train::fused::packed_attention), "eager_ms": ms(froster_model::packed_attention)})
}

/// The fused LayerNorm (bf16 input, f32 parameters, as in a bf16 step; CUDA kernels where they run) and the eager
/// casts around layer_norm, both against the f64 LayerNorm: the largest relative differences of y, dx, dweight
/// and dbias. With `residual`, the same of the residual add and LayerNorm of its sum (x + r), whose output here is
/// y + sum / 2 (so the sum's own gradient reaches x too).
fn layer_norm(rows: i64, width: i64, reps: usize, device: Device, residual: bool) -> serde_json::Value {
    let x = (Tensor::randn([rows, width], (Kind::Float, device)) * 3.0 + 1.0).to_kind(Kind::BFloat16);
    let r = Tensor::randn([rows, width], (Kind::Float, device)).to_kind(Kind::BFloat16);
    let w = Tensor::randn([width], (Kind::Float, device));
    let b = Tensor::randn([width], (Kind::Float, device));
    let g = Tensor::randn([rows, width], (Kind::Float, device)).to_kind(Kind::BFloat16);
    type Ln<'a> = &'a dyn Fn(&Tensor, &Tensor, &Tensor, &Tensor) -> Tensor;
    let run = |ln: Ln, kind: Option<Kind>| {
        let cast = |t: &Tensor| kind.map_or(t.shallow_clone(), |k| t.to_kind(k));
        let (x, w, b) =
            (cast(&x).set_requires_grad(true), cast(&w).set_requires_grad(true), cast(&b).set_requires_grad(true));
        let y = ln(&x, &cast(&r), &w, &b);
        let loss = (&y.to_kind(Kind::Double) * g.to_kind(Kind::Double)).sum(Kind::Double);
        let mut grads = Tensor::run_backward(&[loss], &[&x, &w, &b], false, false);
        grads.insert(0, y.detach());
        grads
    };
    let with_sum = |(s, y): (Tensor, Tensor)| y.to_kind(Kind::Double) + s.to_kind(Kind::Double) * 0.5;
    let fused = |x: &Tensor, r: &Tensor, w: &Tensor, b: &Tensor| match residual {
        true => with_sum(froster_shim::fused_add_layer_norm(x, r, w, b, 1e-5)),
        false => froster_shim::fused_layer_norm(x, w, b, 1e-5),
    };
    let eager = |x: &Tensor, r: &Tensor, w: &Tensor, b: &Tensor| match residual {
        true => with_sum(froster_model::add_layer_norm(x, r, w, b, 1e-5)),
        false => froster_model::layer_norm_f32(x, w, b, 1e-5),
    };
    let exact = |x: &Tensor, r: &Tensor, w: &Tensor, b: &Tensor| {
        let s = if residual { x + r } else { x.shallow_clone() };
        let y = s.layer_norm([width], Some(w), Some(b), 1e-5, true);
        if residual {
            y + s * 0.5
        } else {
            y
        }
    };
    let want = run(&exact, Some(Kind::Double));
    let errs = |got: Vec<Tensor>| -> Vec<f64> {
        let rel = |a: &Tensor, r: &Tensor| {
            let d = (a.to_kind(Kind::Double) - r).abs().max().double_value(&[]);
            d / r.abs().max().double_value(&[]).max(1e-12)
        };
        got.iter().zip(&want).map(|(a, r)| rel(a, r)).collect()
    };
    let (fused_err, eager_err) = (errs(run(&fused, None)), errs(run(&eager, None)));
    let tol = 1e-2;
    let ms = |ln: Ln| {
        ms_per_rep(reps, || {
            let r = run(ln, None);
            let _ = r[1].get(0).get(0).double_value(&[]);
        })
    };
    let op = if residual { "add_layer_norm_f32" } else { "layer_norm_f32" };
    json!({"bench": "kernels", "op": op, "device": format!("{device:?}"), "dtype": "BFloat16",
        "shape": [rows, width], "status": froster_shim::kernels_status(),
        "fused_rel_err": fused_err, "eager_rel_err": eager_err, "tolerance": tol,
        "ok": fused_err.iter().all(|e| *e <= tol), "fused_ms": ms(&fused), "eager_ms": ms(&eager)})
}

fn forward_backward(act: fn(&Tensor) -> Tensor, x: &Tensor, g: &Tensor) -> (Tensor, Tensor) {
    let x = x.detach().set_requires_grad(true);
    let y = act(&x);
    let dx = Tensor::run_backward(&[(&y * g).sum(Kind::Float)], &[&x], false, false).pop().expect("one input");
    (y.detach(), dx)
}

/// ms per forward + backward (the gradient is read back: the device has finished).
fn time(act: fn(&Tensor) -> Tensor, x: &Tensor, g: &Tensor, reps: usize) -> f64 {
    ms_per_rep(reps, || {
        let (_, dx) = forward_backward(act, x, g);
        let _ = dx.get(0).get(0).double_value(&[]);
    })
}

/// Mean ms of `reps` runs of `f` after one untimed warm-up run (`f` reads a result back, so the device is done).
fn ms_per_rep(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let t0 = Instant::now();
    for _ in 0..reps {
        f();
    }
    t0.elapsed().as_secs_f64() * 1e3 / reps.max(1) as f64
}
