//! The QuickGELU op against the eager formula it replaces: values and gradients (its backward is hand-written:
//! the CUDA kernels use the same formula, checked on a GPU by `froster-bench kernels`), for f64, f32 and bf16,
//! contiguous or not, empty.
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
