//! The last block run on the pooled rows only (class token, EOT) gives the features and gradients of the full
//! block, in both towers and every attention mode.
use froster_model::{Clip, ClipConfig};
use std::sync::Mutex;
use tch::{nn, Device, Kind, Tensor};

/// Image features (temporal or not), text features and every weight's gradient of a squared-logit loss, with
/// the last block pooled or not. The tests build their inputs from seeded tch RNG, which test threads share: each
/// test makes its tensors under one lock.
fn run(pooled: bool, temporal: Option<i64>) -> (Tensor, Tensor, Vec<Tensor>) {
    let (mut clip, vs) = tiny_clip();
    let (frames, ids) = inputs(&clip.config);
    clip.set_pooled_last_block(pooled);
    let (img, txt) = (clip.encode_image(&frames, temporal), clip.encode_text(&ids));
    img.matmul(&txt.tr()).pow_tensor_scalar(2).mean(Kind::Float).backward();
    let grads =
        vs.trainable_variables().iter().map(|v| v.grad()).map(|g| if g.defined() { g.copy() } else { g }).collect();
    (img.detach(), txt.detach(), grads)
}

static RNG: Mutex<()> = Mutex::new(());

/// A tiny CLIP from a fixed seed.
fn tiny_clip() -> (Clip, nn::VarStore) {
    let _g = RNG.lock().unwrap();
    tch::manual_seed(5);
    let vs = nn::VarStore::new(Device::Cpu);
    (Clip::new(&vs.root(), &ClipConfig::preset("tiny").unwrap()), vs)
}

/// 8 frames and 3 random token rows, the same at every call.
fn inputs(cfg: &ClipConfig) -> (Tensor, Tensor) {
    let _g = RNG.lock().unwrap();
    tch::manual_seed(6);
    let r = cfg.image_resolution;
    let frames = Tensor::randn([8, 3, r, r], (Kind::Float, Device::Cpu));
    (frames, Tensor::randint(400, [3, cfg.context_length], (Kind::Int64, Device::Cpu)))
}

fn rel(a: &Tensor, b: &Tensor) -> f64 {
    let d = (a - b).norm().double_value(&[]);
    d / b.norm().double_value(&[]).max(1e-12)
}

#[test]
fn pooled_last_block_gives_the_full_blocks_features_and_gradients() {
    for temporal in [None, Some(4), Some(2)] {
        let (img, txt, grads) = run(true, temporal);
        let (img_full, txt_full, grads_full) = run(false, temporal);
        assert!(rel(&img, &img_full) < 1e-5, "image features differ ({temporal:?}): {}", rel(&img, &img_full));
        assert!(rel(&txt, &txt_full) < 1e-5, "text features differ: {}", rel(&txt, &txt_full));
        assert_eq!(grads.len(), grads_full.len());
        for (i, (g, f)) in grads.iter().zip(&grads_full).enumerate() {
            assert_eq!(g.defined(), f.defined(), "weight {i}: a gradient on one side only");
            if f.defined() {
                assert!(rel(g, f) < 1e-4, "weight {i}'s gradient differs ({temporal:?}): {}", rel(g, f));
            }
        }
    }
}

#[test]
fn pooled_rows_are_the_full_forward_at_those_rows() {
    let (clip, _vs) = tiny_clip();
    let t = &clip.visual.transformer;
    let x = Tensor::randn([4, 6, clip.config.vision_width], (Kind::Float, Device::Cpu));
    let rows = Tensor::from_slice(&[0i64, 7, 23, 12]);
    let mode = froster_model::Attention::Temporal(2);
    let want = t.forward(&x, mode).flatten(0, 1).index_select(0, &rows);
    let got = tch::no_grad(|| t.forward_pooled(&x, mode, &rows));
    assert_eq!(got.size(), [4, clip.config.vision_width]);
    assert!(rel(&got, &want.detach()) < 1e-5, "rows differ: {}", rel(&got, &want.detach()));
}
