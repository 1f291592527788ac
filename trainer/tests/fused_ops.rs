//! froster-shim's fused QuickGELU and LayerNorm inside CLIP (what froster-train runs on CUDA) against the eager
//! ops: the same loss and the same gradient of every weight, through both towers and the student's temporal
//! attention, in f32 and in bf16 compute.
use froster_model::{Clip, ClipConfig, Ops};
use tch::{nn, Device, Kind, Tensor};

fn loss_and_grads(clip: &mut Clip, vs: &nn::VarStore, ops: Ops, frames: &Tensor, ids: &Tensor) -> (f64, Vec<Tensor>) {
    clip.set_ops(ops);
    for v in vs.trainable_variables() {
        if v.grad().defined() {
            let _ = v.grad().zero_();
        }
    }
    let img = clip.encode_image(frames, Some(4));
    let txt = clip.encode_text(ids);
    let loss = img.matmul(&txt.tr()).pow_tensor_scalar(2).mean(Kind::Float);
    loss.backward();
    // (Weights the loss does not reach, as logit_scale, have no gradient: zeros.)
    let grads =
        vs.trainable_variables().into_iter().map(|v| if v.grad().defined() { v.grad().copy() } else { v.zeros_like() });
    (loss.double_value(&[]), grads.collect())
}

fn same_loss_and_gradients(compute: Option<Kind>, tol: f64, grad_tol: f64) {
    tch::manual_seed(11);
    let cfg = ClipConfig::preset("tiny").unwrap();
    let vs = nn::VarStore::new(Device::Cpu);
    let mut clip = Clip::new(&vs.root(), &cfg);
    clip.set_compute(compute);
    let r = cfg.image_resolution;
    let frames = Tensor::randn([8, 3, r, r], (Kind::Float, Device::Cpu));
    let ids = Tensor::randint(400, [3, cfg.context_length], (Kind::Int64, Device::Cpu));
    let (le, ge) = loss_and_grads(&mut clip, &vs, Ops::EAGER, &frames, &ids);
    let (lf, gf) = loss_and_grads(&mut clip, &vs, froster_train::step::ops(true), &frames, &ids);
    assert!((le - lf).abs() <= tol * le.abs().max(1e-6), "loss {le} vs {lf}");
    assert!(le.abs() > 0.0);
    let mut moved = 0;
    for (a, b) in ge.iter().zip(&gf) {
        let scale = a.norm().double_value(&[]);
        let rel = (a - b).norm().double_value(&[]) / scale.max(1e-12);
        assert!(rel < grad_tol, "a gradient differs by {rel:e}");
        moved += (scale > 0.0) as usize;
    }
    assert!(moved * 2 > ge.len(), "most weights get a gradient ({moved} of {})", ge.len());
}

#[test]
fn fused_ops_give_clip_the_same_loss_and_gradients_in_f32() {
    same_loss_and_gradients(None, 1e-5, 1e-5);
}

#[test]
fn fused_ops_give_clip_the_same_loss_and_gradients_in_bf16() {
    // The fused QuickGELU rounds once where eager rounds after each op: within bf16's rounding (measured: the
    // worst weight's gradient 8.6e-2 apart by norm; a wrong formula is off by O(1)).
    same_loss_and_gradients(Some(Kind::BFloat16), 2e-2, 0.15);
}
