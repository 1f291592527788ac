//! The fused ops against the eager ones they replace. QuickGELU: values and gradients (its backward is hand-written:
//! the CUDA kernels use the same formula, checked on a GPU by `froster-bench kernels`), for f64, f32 and bf16,
//! contiguous or not, empty. LayerNorm in f32: the same values and gradients as the eager casts around
//! layer_norm, in f32 and bf16, frozen parameters included.
use tch::{Device, Kind, Tensor};

fn eager(x: &Tensor) -> Tensor {
    x * (x * 1.702).sigmoid()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a.to_kind(Kind::Double) - b.to_kind(Kind::Double)).abs().max().double_value(&[])
}

#[test]
fn values_and_gradients_match_the_eager_formula() {
    tch::manual_seed(3);
    let x = (Tensor::randn([4, 7, 33], (Kind::Double, Device::Cpu)) * 4.0).set_requires_grad(true);
    let g = Tensor::randn([4, 7, 33], (Kind::Double, Device::Cpu));
    let y = froster_shim::quick_gelu(&x).unwrap();
    assert!(max_diff(&y, &eager(&x)) < 1e-12);
    let fused = Tensor::run_backward(&[(&y * &g).sum(Kind::Double)], &[&x], false, false).pop().unwrap();
    let want = Tensor::run_backward(&[(eager(&x) * &g).sum(Kind::Double)], &[&x], false, false).pop().unwrap();
    assert!(max_diff(&fused, &want) < 1e-12, "gradient off by {}", max_diff(&fused, &want));
    // A strided view (the MLP's activations are contiguous, but the op must not assume it).
    let t = x.detach().transpose(0, 2).set_requires_grad(true);
    let y = froster_shim::quick_gelu(&t).unwrap();
    assert_eq!(y.size(), t.size());
    assert!(max_diff(&y, &eager(&t)) < 1e-12);
}

#[test]
fn low_precision_inputs_keep_their_dtype_within_its_rounding() {
    let x = Tensor::linspace(-8.0, 8.0, 1001, (Kind::Float, Device::Cpu));
    for (kind, tol) in [(Kind::Float, 1e-6), (Kind::BFloat16, 2e-2), (Kind::Half, 2e-3)] {
        let xk = x.to_kind(kind).set_requires_grad(true);
        let y = froster_shim::quick_gelu(&xk).unwrap();
        assert_eq!(y.kind(), kind);
        let want = eager(&xk.to_kind(Kind::Double));
        let rel = max_diff(&y, &want) / (1.0 + want.abs().max().double_value(&[]));
        assert!(rel < tol, "{kind:?}: relative error {rel}");
        let dx = Tensor::run_backward(&[y.to_kind(Kind::Float).sum(Kind::Float)], &[&xk], false, false).pop().unwrap();
        assert_eq!(dx.kind(), kind);
    }
    let empty = Tensor::zeros([0, 5], (Kind::Float, Device::Cpu));
    assert_eq!(froster_shim::quick_gelu(&empty).unwrap().size(), vec![0, 5]);
    assert!(!froster_shim::kernels_status().is_empty());
}

/// The eager LayerNorm the op replaces (froster_model's `layer_norm_f32`).
fn eager_layer_norm(x: &Tensor, w: &Tensor, b: &Tensor) -> Tensor {
    let f = Kind::Float;
    x.to_kind(f).layer_norm([x.size()[2]], Some(&w.to_kind(f)), Some(&b.to_kind(f)), 1e-5, true).to_kind(x.kind())
}

#[test]
fn layer_norm_in_f32_keeps_values_and_gradients_of_the_eager_ops() {
    for kind in [Kind::Float, Kind::BFloat16] {
        let x = Tensor::randn([3, 5, 24], (Kind::Float, Device::Cpu)) * 3.0 + 1.0;
        let x = x.to_kind(kind).set_requires_grad(true);
        let w = (Tensor::randn([24], (Kind::Float, Device::Cpu)) + 1.0).set_requires_grad(true);
        let b = Tensor::randn([24], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let g = Tensor::randn([3, 5, 24], (Kind::Float, Device::Cpu)).to_kind(kind);
        let y = froster_shim::layer_norm_f32(&x, &w, &b, 1e-5).unwrap();
        let want = eager_layer_norm(&x, &w, &b);
        assert_eq!(y.kind(), kind);
        assert!(y.equal(&want), "{kind:?}: values differ by {}", max_diff(&y, &want));
        let loss = |y: &Tensor| (y * &g).to_kind(Kind::Float).sum(Kind::Float);
        let fused = Tensor::run_backward(&[loss(&y)], &[&x, &w, &b], false, false);
        let eager = Tensor::run_backward(&[loss(&want)], &[&x, &w, &b], false, false);
        for (name, (a, e)) in ["x", "weight", "bias"].iter().zip(fused.iter().zip(&eager)) {
            assert_eq!(a.kind(), e.kind(), "{name}");
            assert!(max_diff(a, e) < 1e-6, "{kind:?} d{name}: off by {}", max_diff(a, e));
        }
    }
    // Frozen parameters (the teacher's): no gradient asked for them.
    let x = Tensor::randn([2, 4, 8], (Kind::Float, Device::Cpu)).set_requires_grad(true);
    let (w, b) = (Tensor::ones([8], (Kind::Float, Device::Cpu)), Tensor::zeros([8], (Kind::Float, Device::Cpu)));
    let y = froster_shim::layer_norm_f32(&x, &w, &b, 1e-5).unwrap();
    let dx = Tensor::run_backward(&[y.sum(Kind::Float)], &[&x], false, false).pop().unwrap();
    assert_eq!(dx.size(), x.size());
    assert!(froster_shim::layer_norm_f32(&x, &w.narrow(0, 0, 3), &b, 1e-5).is_err(), "a weight of the wrong size");
}

#[test]
fn add_layer_norm_keeps_values_and_gradients_of_the_eager_add_then_layer_norm() {
    for kind in [Kind::Float, Kind::BFloat16] {
        let leaf = |t: Tensor| t.to_kind(kind).set_requires_grad(true);
        let x = leaf(Tensor::randn([3, 5, 24], (Kind::Float, Device::Cpu)) * 3.0 + 1.0);
        let r = leaf(Tensor::randn([3, 5, 24], (Kind::Float, Device::Cpu)));
        let w = (Tensor::randn([24], (Kind::Float, Device::Cpu)) + 1.0).set_requires_grad(true);
        let b = Tensor::randn([24], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let (gs, gy) = (
            Tensor::randn([3, 5, 24], (Kind::Float, Device::Cpu)),
            Tensor::randn([3, 5, 24], (Kind::Float, Device::Cpu)),
        );
        let (s, y) = froster_shim::add_layer_norm_f32(&x, &r, &w, &b, 1e-5).unwrap();
        let want_s = &x + &r;
        let want_y = eager_layer_norm(&want_s, &w, &b);
        assert_eq!((s.kind(), y.kind()), (kind, kind));
        assert!(s.equal(&want_s) && y.equal(&want_y), "{kind:?}: values differ by {}", max_diff(&y, &want_y));
        // The sum feeds the residual stream and the LayerNorm the branch: both gradients reach x and r.
        let loss = |s: &Tensor, y: &Tensor| (s * &gs + y * &gy).to_kind(Kind::Float).sum(Kind::Float);
        let fused = Tensor::run_backward(&[loss(&s, &y)], &[&x, &r, &w, &b], false, false);
        let eager = Tensor::run_backward(&[loss(&want_s, &want_y)], &[&x, &r, &w, &b], false, false);
        let tol = if kind == Kind::Float { 1e-5 } else { 3e-2 };
        for (name, (a, e)) in ["x", "r", "weight", "bias"].iter().zip(fused.iter().zip(&eager)) {
            assert_eq!(a.kind(), e.kind(), "{name}");
            assert!(max_diff(a, e) < tol, "{kind:?} d{name}: off by {}", max_diff(a, e));
        }
    }
    // A broadcast residual (not one the blocks make) still gets its reduced gradient; a bad weight is an error.
    let x = Tensor::randn([2, 4, 8], (Kind::Float, Device::Cpu)).set_requires_grad(true);
    let r = Tensor::randn([8], (Kind::Float, Device::Cpu)).set_requires_grad(true);
    let (w, b) = (Tensor::ones([8], (Kind::Float, Device::Cpu)), Tensor::zeros([8], (Kind::Float, Device::Cpu)));
    let (s, y) = froster_shim::add_layer_norm_f32(&x, &r, &w, &b, 1e-5).unwrap();
    let dr =
        Tensor::run_backward(&[(s.sum(Kind::Float) + y.pow_tensor_scalar(3).sum(Kind::Float))], &[&r], false, false);
    assert_eq!(dr[0].size(), vec![8]);
    assert!(
        froster_shim::add_layer_norm_f32(&x, &x, &w.narrow(0, 0, 3), &b, 1e-5).is_err(),
        "a weight of the wrong size"
    );
}
