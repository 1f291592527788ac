//! The fused multi-tensor AdamW and foreach gradient norm (libtorch's, through froster-shim) against the
//! per-tensor loop, on the CPU: the same parameters, moments and norms after several clipped steps, weight decay
//! skipping 1-D tensors and biases in both.
use froster_train::adamw::AdamW;
use tch::{Device, Kind, Tensor};

/// Deterministic pseudo-random values (no global RNG: the tests run in parallel threads).
fn det(shape: &[i64], k: f64) -> Tensor {
    let n: i64 = shape.iter().product();
    (Tensor::arange(n, (Kind::Float, Device::Cpu)) * (0.7 + k) + k).sin().view(shape) * 2.0
}

fn setup(_seed: i64) -> Vec<(String, Tensor)> {
    [("a.weight", vec![16, 8]), ("a.bias", vec![16]), ("ln.weight", vec![8]), ("proj", vec![8, 4])]
        .into_iter()
        .enumerate()
        .map(|(i, (n, s))| (n.to_string(), det(&s, i as f64).set_requires_grad(true)))
        .collect()
}

fn loss_at(params: &[(String, Tensor)], step: i64) -> Tensor {
    params.iter().map(|(_, p)| (p * det(&p.size(), 10.0 + step as f64) * (step + 1)).sum(Kind::Float)).sum()
}

fn run(fused: bool) -> (Vec<Tensor>, Vec<f64>, AdamW) {
    let params = setup(3);
    let mut opt = AdamW::new(params.iter().map(|(n, p)| (n.clone(), p.shallow_clone())).collect(), 0.05);
    opt.set_fused(fused);
    let mut norms = Vec::new();
    for step in 0..6 {
        opt.zero_grad();
        loss_at(&params, step).backward();
        norms.push(opt.clip_grad_norm(1.0).double_value(&[]));
        opt.step(1e-2 * (1.0 + step as f64)).unwrap();
    }
    (params.into_iter().map(|(_, p)| p.detach()).collect(), norms, opt)
}

#[test]
fn fused_adamw_matches_the_per_tensor_loop() {
    let (a, na, oa) = run(false);
    let (b, nb, ob) = run(true);
    for (x, y) in na.iter().zip(&nb) {
        assert!((x - y).abs() <= 1e-5 * x.abs().max(1.0), "grad norms {na:?} vs {nb:?}");
    }
    for (x, y) in a.iter().zip(&b) {
        let rel = (x - y).norm().double_value(&[]) / x.norm().double_value(&[]);
        assert!(rel < 1e-6, "parameters differ by {rel:e}");
    }
    let (sa, sb) = (oa.state(), ob.state());
    for (k, v) in &sa {
        let rel = (v - &sb[k]).norm().double_value(&[]) / v.norm().double_value(&[]).max(1e-12);
        assert!(rel < 1e-5, "{k} differs by {rel:e}");
    }
    assert_eq!((oa.steps(), ob.steps()), (6, 6));
    // The runs really moved the weights, and clipping was active (norms above 1).
    assert!(na.iter().any(|n| *n > 1.0));
    assert!((&a[0] - setup(3)[0].1.detach()).abs().max().double_value(&[]) > 1e-3);
}

#[test]
fn fused_adamw_resumes_exactly() {
    let (whole, _, _) = run(true);
    // Three steps, then a new optimizer restored from the state, three more.
    let params = setup(3);
    let named = || params.iter().map(|(n, p)| (n.clone(), p.shallow_clone())).collect::<Vec<_>>();
    let mut opt = AdamW::new(named(), 0.05);
    opt.set_fused(true);
    let step_with = |opt: &mut AdamW, step: i64| {
        opt.zero_grad();
        loss_at(&params, step).backward();
        let _ = opt.clip_grad_norm(1.0);
        opt.step(1e-2 * (1.0 + step as f64)).unwrap();
    };
    for s in 0..3 {
        step_with(&mut opt, s);
    }
    let state: std::collections::HashMap<String, Tensor> =
        opt.state().into_iter().map(|(k, v)| (k, v.copy())).collect();
    let mut resumed = AdamW::new(named(), 0.05);
    resumed.set_fused(true);
    resumed.load_state(&state, 3).unwrap();
    for s in 3..6 {
        step_with(&mut resumed, s);
    }
    for ((_, p), w) in params.iter().zip(&whole) {
        assert_eq!(p.detach(), *w, "a resumed fused run equals an uninterrupted one");
    }
}
