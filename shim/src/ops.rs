//! Autograd ops that compute what CLIP's eager ops compute and keep less for backward (cpp/activation.cpp,
//! cpp/attention.cpp), with tch's tensors passed through as handles.
use crate::{check_local, ffi, Result};
use std::ffi::{c_void, CStr};
use tch::Tensor;

/// QuickGELU, `x * sigmoid(1.702 x)`, as one autograd op that keeps only `x` for backward (eager tch keeps two
/// activations): one fused CUDA kernel each way on CUDA tensors (f32, bf16, f16) when [`kernels_status`] says
/// they run, the same formulas in ATen otherwise.
pub fn quick_gelu(x: &Tensor) -> Result<Tensor> {
    let mut y = Tensor::zeros([], (tch::Kind::Float, tch::Device::Cpu));
    let mut err = std::ptr::null_mut();
    let (xp, yp) = (x.as_ptr() as *mut c_void, y.as_mut_ptr() as *mut c_void);
    let rc = unsafe { ffi::fs_quick_gelu(xp, yp, &mut err) };
    check_local("quick_gelu", rc, err)?;
    Ok(y)
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
    let mut y = Tensor::zeros([], (tch::Kind::Float, tch::Device::Cpu));
    let mut err = std::ptr::null_mut();
    let p = |t: &Tensor| t.as_ptr() as *mut c_void;
    let out = y.as_mut_ptr() as *mut c_void;
    let rc = unsafe { ffi::fs_layer_norm_f32(p(x), p(weight), p(bias), eps, out, &mut err) };
    check_local("layer_norm", rc, err)?;
    Ok(y)
}

/// [`layer_norm_f32`] with tch's convention for ops (a libtorch error panics with its message).
pub fn fused_layer_norm(x: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> Tensor {
    layer_norm_f32(x, weight, bias, eps).unwrap_or_else(|e| panic!("{e}"))
}

/// Whether the fused CUDA kernels were compiled into this build and, once used, whether they run on this GPU.
pub fn kernels_status() -> String {
    let p = unsafe { ffi::fs_kernels_status() };
    if p.is_null() {
        return "unknown (out of memory)".into();
    }
    let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    unsafe { ffi::fs_free(p as *mut c_void) };
    s
}

/// Open-VCLIP's temporal attention of `q`, `k`, `v` ([N, heads, L, d], N a whole number of clips of `t` frames):
/// frame f's queries attend to the keys and values of frames f+1, f-1 and f of its clip (zero blocks past the
/// ends, unmasked), with SDPA's scaling. Where the dispatcher picks flash attention (bf16/f16 on CUDA, the CPU's
/// kernel), one autograd op that keeps q, k, v and the attention's output for backward instead of the tripled
/// keys and values (at ViT-B/16 batch 32 x 8 frames, 12 blocks: about 6 GB less in bf16 by count); the eager
/// ops otherwise. The same values either way.
pub fn temporal_attention(q: &Tensor, k: &Tensor, v: &Tensor, t: i64) -> Result<Tensor> {
    let mut o = Tensor::zeros([], (tch::Kind::Float, tch::Device::Cpu));
    let mut err = std::ptr::null_mut();
    let p = |x: &Tensor| x.as_ptr() as *mut c_void;
    let out = o.as_mut_ptr() as *mut c_void;
    let rc = unsafe { ffi::fs_temporal_attention(p(q), p(k), p(v), t, out, &mut err) };
    check_local("temporal attention", rc, err)?;
    Ok(o)
}

/// The temporal attention op's self-check on `like`'s device and dtype: its output and the gradients of q, k and
/// v against the eager ops', by norm; "" when they agree, else why not. On CUDA the op runs it once before first
/// use and stands aside if it fails.
pub fn temporal_attention_self_check(like: &Tensor) -> String {
    let p = unsafe { ffi::fs_temporal_attention_check(like.as_ptr() as *mut c_void) };
    if p.is_null() {
        return "no message (out of memory)".into();
    }
    let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    unsafe { ffi::fs_free(p as *mut c_void) };
    s
}

/// Whether [`temporal_attention`] runs its own op on these inputs (false: the eager ops).
pub fn temporal_attention_keeps_less(q: &Tensor, k: &Tensor, v: &Tensor) -> bool {
    let p = |x: &Tensor| x.as_ptr() as *mut c_void;
    unsafe { ffi::fs_temporal_attention_keeps_less(p(q), p(k), p(v)) == 1 }
}

/// [`temporal_attention`] with tch's convention for ops (a libtorch error panics with its message).
pub fn fused_temporal_attention(q: &Tensor, k: &Tensor, v: &Tensor, t: i64) -> Tensor {
    temporal_attention(q, k, v, t).unwrap_or_else(|e| panic!("{e}"))
}
