//! froster-shim's fused QuickGELU inside CLIP (what froster-train runs on CUDA) against the eager ops: the same
//! features and the same gradient of every weight, through both towers and the student's temporal attention.
use froster_model::{quick_gelu, Activation, Clip, ClipConfig};
use tch::{nn, Device, Kind, Tensor};

fn loss_and_grads(
    clip: &mut Clip,
    vs: &nn::VarStore,
    act: Activation,
    frames: &Tensor,
    ids: &Tensor,
) -> (f64, Vec<Tensor>) {
    clip.set_activation(act);
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

#[test]
fn fused_quick_gelu_gives_clip_the_same_loss_and_gradients() {
    tch::manual_seed(11);
    let cfg = ClipConfig::preset("tiny").unwrap();
    let vs = nn::VarStore::new(Device::Cpu);
    let mut clip = Clip::new(&vs.root(), &cfg);
    let r = cfg.image_resolution;
    let frames = Tensor::randn([8, 3, r, r], (Kind::Float, Device::Cpu));
    let ids = Tensor::randint(400, [3, cfg.context_length], (Kind::Int64, Device::Cpu));
    let (le, ge) = loss_and_grads(&mut clip, &vs, quick_gelu, &frames, &ids);
    let (lf, gf) = loss_and_grads(&mut clip, &vs, froster_shim::fused_quick_gelu, &frames, &ids);
    assert!((le - lf).abs() <= 1e-5 * le.abs().max(1e-6), "loss {le} vs {lf}");
    assert!(le.abs() > 0.0);
    let mut moved = 0;
    for (a, b) in ge.iter().zip(&gf) {
        let scale = a.norm().double_value(&[]);
        let rel = (a - b).norm().double_value(&[]) / scale.max(1e-12);
        assert!(rel < 1e-4, "a gradient differs by {rel:e}");
        moved += (scale > 0.0) as usize;
    }
    assert!(moved * 2 > ge.len(), "most weights get a gradient ({moved} of {})", ge.len());
}
