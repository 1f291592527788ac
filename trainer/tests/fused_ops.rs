//! froster-shim's fused QuickGELU, LayerNorm and temporal attention inside CLIP (what froster-train runs on CUDA)
//! against the eager ops: the same loss and the same gradient of every weight, through both towers and the
//! student's temporal attention, in f32 and in bf16 compute (froster_train::ops_check, which froster-bench kernels
//! also runs on a GPU).
use froster_model::Ops;
use froster_train::ops_check::{grad_distance, tiny_clip};
use tch::{Device, Kind, Tensor};

/// (loss, gradients) of the tiny CLIP on the CPU under `ops` with `compute`, from one seed.
fn run(compute: Option<Kind>, ops: Ops) -> (f64, Vec<tch::Tensor>) {
    tiny_clip(Device::Cpu, compute, ops).unwrap()
}

// One test: the runs seed the global RNG, which parallel tests in this binary would share.
#[test]
fn fused_ops_give_clip_the_same_loss_and_gradients() {
    let fused = froster_train::step::ops(true);
    // f32: the same values up to summation order.
    let (reference, ref_grads) = run(None, Ops::EAGER);
    let (l, g) = run(None, fused);
    assert!((reference - l).abs() <= 1e-5 * reference.abs(), "loss {reference} vs {l}");
    assert!(grad_distance(&ref_grads, &g) < 1e-5, "gradients {:e} apart", grad_distance(&ref_grads, &g));
    assert!(ref_grads.iter().filter(|g| g.abs().max().double_value(&[]) > 0.0).count() * 2 > ref_grads.len());
    // bf16: the fused QuickGELU rounds once where eager rounds after each op, so the two differ by bf16 noise:
    // the fused run must be about as far from the f32 result as the eager bf16 run, up to one bf16 rounding of
    // the loss (2^-8). Measured: loss 72.117, eager 72.105, fused 72.235; gradients 1.27e-2 and 1.28e-2 from f32.
    // A wrong formula is off by far more.
    let (le, ge) = run(Some(Kind::BFloat16), Ops::EAGER);
    let (lf, gf) = run(Some(Kind::BFloat16), fused);
    let (loss_eager, loss_fused) = ((le - reference).abs(), (lf - reference).abs());
    assert!(loss_fused <= 2.0 * loss_eager + reference.abs() / 256.0, "loss: fused {loss_fused}, eager {loss_eager}");
    let (grad_eager, grad_fused) = (grad_distance(&ref_grads, &ge), grad_distance(&ref_grads, &gf));
    assert!(grad_fused <= 2.0 * grad_eager + 1e-3, "gradients: fused {grad_fused:e}, eager {grad_eager:e}");
}

#[test]
fn packed_attention_falls_back_to_the_eager_ops_off_cuda_and_its_check_says_why() {
    use froster_model::Packed;
    let p = Packed::new(&[3, 2], 4, Device::Cpu);
    assert_eq!(Vec::<i64>::try_from(&p.padded).unwrap(), [0, 1, 2, 4, 5]);
    assert_eq!(Vec::<i64>::try_from(&p.offsets).unwrap(), [0, 3, 5]);
    let qkv = |k: f64| (Tensor::arange(2 * 5 * 8, (Kind::Float, Device::Cpu)) * k).sin().view([1, 2, 5, 8]);
    let (q, k, v) = (qkv(0.3), qkv(0.7), qkv(1.1));
    let fused = froster_train::fused::packed_attention(&q, &k, &v, &p);
    assert!(fused.equal(&froster_model::packed_attention(&q, &k, &v, &p)));
    // Flash's variable-length kernel exists on CUDA only: here the check names an error instead of agreeing.
    assert!(!froster_train::fused::packed_attention_check(&q.to_kind(Kind::BFloat16)).is_empty());
}
