//! CLIP's fused ops against the eager ones, all at once: the loss and every weight's gradient of the tiny CLIP
//! (both towers, the student's temporal attention over clips of 4 frames) from one seed.
//! `trainer/tests/fused_ops.rs` asserts on them on the CPU; `froster-bench kernels` prints them on a device.
use froster_model::{Clip, ClipConfig, Ops};
use tch::{nn, Device, Kind, Tensor};

/// (loss, gradient of every trainable weight) of the tiny CLIP on `device` under `ops` with `compute`, seeded
/// (tch's global RNG: callers in parallel threads would share it). Weights the loss does not reach (logit_scale)
/// get zeros.
pub fn tiny_clip(device: Device, compute: Option<Kind>, ops: Ops) -> froster_model::Result<(f64, Vec<Tensor>)> {
    tch::manual_seed(11);
    let cfg = ClipConfig::preset("tiny")?;
    let vs = nn::VarStore::new(device);
    let mut clip = Clip::new(&vs.root(), &cfg);
    clip.set_compute(compute);
    clip.set_ops(ops);
    let r = cfg.image_resolution;
    let frames = Tensor::randn([8, 3, r, r], (Kind::Float, device));
    let ids = Tensor::randint(400, [3, cfg.context_length], (Kind::Int64, device));
    let loss = clip.encode_image(&frames, Some(4)).matmul(&clip.encode_text(&ids).tr());
    let loss = loss.pow_tensor_scalar(2).mean(Kind::Float);
    loss.backward();
    let grads = vs.trainable_variables().into_iter();
    let grads = grads.map(|v| if v.grad().defined() { v.grad() } else { v.zeros_like() });
    Ok((loss.double_value(&[]), grads.collect()))
}

/// Relative distance of two gradient lists, by their overall norm.
pub fn grad_distance(a: &[Tensor], b: &[Tensor]) -> f64 {
    let sq = |t: Tensor| t.to_kind(Kind::Double).pow_tensor_scalar(2).sum(Kind::Double).double_value(&[]);
    let diff: f64 = a.iter().zip(b).map(|(x, y)| sq(x - y)).sum();
    let norm: f64 = a.iter().map(|x| sq(x.shallow_clone())).sum();
    (diff / norm.max(1e-30)).sqrt()
}
