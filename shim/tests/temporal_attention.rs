//! The temporal attention op (keeps q, k, v and the output for backward, builds the tripled keys and values again)
//! against froster-model's eager ops: the same values and the same gradients of q, k and v, with q, k, v as the
//! strided views of one qkv projection the model passes, for clips of several lengths (1 frame: no neighbours).
use froster_model::temporal_attention as eager;
use tch::{Device, Kind, Tensor};

/// Deterministic values (no global RNG: tests run in parallel threads).
fn det(shape: &[i64], k: f64) -> Tensor {
    let n: i64 = shape.iter().product();
    (Tensor::arange(n, (Kind::Double, Device::Cpu)) * (0.37 + k)).sin().view(shape)
}

/// q, k, v [N, h, L, d] as the model slices them from a qkv projection [N, L, 3, h, d], and that projection.
fn qkv(n: i64, h: i64, l: i64, d: i64, kind: Kind) -> (Tensor, [Tensor; 3]) {
    let x = det(&[n, l, 3 * h * d], 0.1).to_kind(kind).set_requires_grad(true);
    let p = x.view([n, l, 3, h, d]).permute([2, 0, 3, 1, 4]);
    (x, [p.get(0), p.get(1), p.get(2)])
}

fn rel(a: &Tensor, b: &Tensor) -> f64 {
    let (a, b) = (a.to_kind(Kind::Double), b.to_kind(Kind::Double));
    (&a - &b).norm().double_value(&[]) / b.norm().double_value(&[]).max(1e-30)
}

fn check(t: i64, kind: Kind, tol: f64) {
    let (n, h, l, d) = (2 * t, 2, 9, 16);
    let g = det(&[n, h, l, d], 0.7).to_kind(kind);
    let (xe, [q, k, v]) = qkv(n, h, l, d, kind);
    let want = eager(&q, &k, &v, t);
    let want_dx = Tensor::run_backward(&[(&want * &g).sum(Kind::Float)], &[&xe], false, false).pop().unwrap();
    let (xf, [q, k, v]) = qkv(n, h, l, d, kind);
    // The CPU's flash kernel takes these: the op itself runs, not the eager fallback.
    assert!(froster_shim::temporal_attention_keeps_less(&q, &k, &v), "{kind:?}");
    let got = froster_shim::temporal_attention(&q, &k, &v, t).unwrap();
    assert_eq!(got.size(), want.size());
    assert!(rel(&got, &want) <= tol, "t={t} {kind:?}: values differ by {:e}", rel(&got, &want));
    let got_dx = Tensor::run_backward(&[(&got * &g).sum(Kind::Float)], &[&xf], false, false).pop().unwrap();
    assert_eq!(got_dx.kind(), kind);
    // The projection's gradient holds those of q, k and v: all three checked at once.
    assert!(rel(&got_dx, &want_dx) <= tol, "t={t} {kind:?}: gradients differ by {:e}", rel(&got_dx, &want_dx));
    assert!(want_dx.abs().max().double_value(&[]) > 0.0);
}

#[test]
fn temporal_attention_keeps_the_eager_values_and_gradients() {
    for t in [1, 2, 4] {
        check(t, Kind::Float, 1e-6);
    }
    check(4, Kind::BFloat16, 1e-2);
}

#[test]
fn frames_that_are_not_whole_clips_are_an_error() {
    let (_, [q, k, v]) = qkv(6, 1, 5, 8, Kind::Float);
    let e = froster_shim::temporal_attention(&q, &k, &v, 4).unwrap_err().to_string();
    assert!(e.contains("6 frames is not a whole number of clips"), "{e}");
    let e = froster_shim::temporal_attention(&q, &k.narrow(2, 0, 2), &v, 3).unwrap_err().to_string();
    assert!(!froster_shim::temporal_attention_keeps_less(&q.narrow(3, 0, 5), &k.narrow(3, 0, 5), &v.narrow(3, 0, 5)));
    assert!(e.contains("one shape"), "{e}");
}

#[test]
fn the_self_check_cuda_runs_passes_here_too() {
    // What the op runs once on a GPU before first use (there a failure makes it stand aside), here on the CPU.
    for kind in [Kind::Float, Kind::BFloat16] {
        let like = Tensor::zeros([1], (kind, Device::Cpu));
        assert_eq!(froster_shim::temporal_attention_self_check(&like), "", "{kind:?}");
    }
}
