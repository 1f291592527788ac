//! Autograd ops that compute what CLIP's eager ops compute and keep less for backward (cpp/activation.cpp,
//! cpp/attention.cpp), with tch's tensors passed through as handles.
use crate::{check_local, ffi, Result};
use std::ffi::{c_char, c_int, c_void, CStr};
use tch::Tensor;

/// QuickGELU, `x * sigmoid(1.702 x)`, as one autograd op that keeps only `x` for backward (eager tch keeps two
/// activations): one fused CUDA kernel each way on CUDA tensors (f32, bf16, f16) when [`kernels_status`] says
/// they run, the same formulas in ATen otherwise.
pub fn quick_gelu(x: &Tensor) -> Result<Tensor> {
    op("quick_gelu", |out, err| unsafe { ffi::fs_quick_gelu(handle(x), out, err) })
}

/// [`quick_gelu`] with tch's convention for ops: a libtorch error panics with its message (the shape of
/// froster_model::Ops' functions).
pub fn fused_quick_gelu(x: &Tensor) -> Tensor {
    quick_gelu(x).unwrap_or_else(|e| panic!("{e}"))
}

/// CLIP's LayerNorm over the last dimension, normalised in f32 and returned in `x`'s dtype (the eager
/// `x.to_kind(f32).layer_norm(..).to_kind(x.kind())`, the same values), as one autograd op that keeps `x` in its own
/// dtype for backward (bf16: half the bytes of the f32 copy eager keeps) and casts it again there.
pub fn layer_norm_f32(x: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> Result<Tensor> {
    let (x, w, b) = (handle(x), handle(weight), handle(bias));
    op("layer_norm", |out, err| unsafe { ffi::fs_layer_norm_f32(x, w, b, eps, out, err) })
}

/// [`layer_norm_f32`] with tch's convention for ops (a libtorch error panics with its message).
pub fn fused_layer_norm(x: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> Tensor {
    layer_norm_f32(x, weight, bias, eps).unwrap_or_else(|e| panic!("{e}"))
}

/// The residual add `x + r` and [`layer_norm_f32`] of the sum, as one autograd op that returns both (the eager
/// `(x + r, layer_norm_f32(x + r))`, the same values): on CUDA one kernel writes the sum and its LayerNorm, and
/// backward adds the sum's own gradient inside the LayerNorm's dx kernel, where the eager ops write the sum, read
/// it again, and add two gradients in a third kernel.
pub fn add_layer_norm_f32(
    x: &Tensor,
    r: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    eps: f64,
) -> Result<(Tensor, Tensor)> {
    let (x, r, w, b) = (handle(x), handle(r), handle(weight), handle(bias));
    let mut sum = empty();
    let sum_out = sum.as_mut_ptr() as *mut c_void;
    let y = op("add_layer_norm", |out, err| unsafe { ffi::fs_add_layer_norm_f32(x, r, w, b, eps, sum_out, out, err) })?;
    Ok((sum, y))
}

/// [`add_layer_norm_f32`] with tch's convention for ops (a libtorch error panics with its message).
pub fn fused_add_layer_norm(x: &Tensor, r: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> (Tensor, Tensor) {
    add_layer_norm_f32(x, r, weight, bias, eps).unwrap_or_else(|e| panic!("{e}"))
}

/// Causal attention within sequences packed end to end (q, k, v [1, heads, T, d]; `offsets` [seqs + 1], int64:
/// where each sequence starts, then the total; `max_len` the longest): flash attention's variable-length kernel
/// over the packed tokens, differentiable. CUDA with bf16 or f16 only: an error elsewhere (froster_model's eager
/// `packed_attention` computes the same anywhere).
pub fn packed_attention(q: &Tensor, k: &Tensor, v: &Tensor, offsets: &Tensor, max_len: i64) -> Result<Tensor> {
    let (q, k, v, o) = (handle(q), handle(k), handle(v), handle(offsets));
    op("packed attention", |out, err| unsafe { ffi::fs_packed_attention(q, k, v, o, max_len, out, err) })
}

/// Whether the fused CUDA kernels were compiled into this build and, once used, whether they run on this GPU.
pub fn kernels_status() -> String {
    owned_string(unsafe { ffi::fs_kernels_status() }).unwrap_or_else(|| "unknown (out of memory)".into())
}

/// Open-VCLIP's temporal attention of `q`, `k`, `v` ([N, heads, L, d], N a whole number of clips of `t` frames):
/// frame f's queries attend to the keys and values of frames f+1, f-1 and f of its clip (zero blocks past the
/// ends, unmasked), with SDPA's scaling. Where the dispatcher picks flash attention (bf16/f16 on CUDA, the CPU's
/// kernel), one autograd op that keeps q, k, v and the attention's output for backward instead of the tripled
/// keys and values (at ViT-B/16 batch 32 x 8 frames, 12 blocks: about 6 GB less in bf16 by count); the eager
/// ops otherwise. The same values either way.
pub fn temporal_attention(q: &Tensor, k: &Tensor, v: &Tensor, t: i64) -> Result<Tensor> {
    let (q, k, v) = (handle(q), handle(k), handle(v));
    op("temporal attention", |out, err| unsafe { ffi::fs_temporal_attention(q, k, v, t, out, err) })
}

/// The temporal attention op's self-check on `like`'s device and dtype: its output and the gradients of q, k and
/// v against the eager ops', by norm; "" when they agree, else why not. On CUDA the op runs it once before first
/// use and stands aside if it fails.
pub fn temporal_attention_self_check(like: &Tensor) -> String {
    owned_string(unsafe { ffi::fs_temporal_attention_check(handle(like)) })
        .unwrap_or_else(|| "no message (out of memory)".into())
}

/// Whether [`temporal_attention`] runs its own op on these inputs (false: the eager ops).
pub fn temporal_attention_keeps_less(q: &Tensor, k: &Tensor, v: &Tensor) -> bool {
    unsafe { ffi::fs_temporal_attention_keeps_less(handle(q), handle(k), handle(v)) == 1 }
}

/// [`temporal_attention`] with tch's convention for ops (a libtorch error panics with its message).
pub fn fused_temporal_attention(q: &Tensor, k: &Tensor, v: &Tensor, t: i64) -> Tensor {
    temporal_attention(q, k, v, t).unwrap_or_else(|e| panic!("{e}"))
}

/// tch's handle of a tensor (an `at::Tensor*`), as the C API takes it.
fn handle(t: &Tensor) -> *mut c_void {
    t.as_ptr() as *mut c_void
}

/// Runs a C op that writes its result into an `at::Tensor*`: that tensor, or the op's error.
fn op(name: &'static str, call: impl FnOnce(*mut c_void, *mut *mut c_char) -> c_int) -> Result<Tensor> {
    let mut y = empty();
    let mut err = std::ptr::null_mut();
    let rc = call(y.as_mut_ptr() as *mut c_void, &mut err);
    check_local(name, rc, err)?;
    Ok(y)
}

/// A tensor handle for the shim to overwrite.
fn empty() -> Tensor {
    Tensor::zeros([], (tch::Kind::Float, tch::Device::Cpu))
}

/// A malloc'd C string from the shim, copied and freed; None for a null pointer.
pub(crate) fn owned_string(p: *mut c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    unsafe { ffi::fs_free(p as *mut c_void) };
    Some(s)
}
