//! Reading golden cases and comparing against them.
use froster_model::{ClipConfig, Weights};
use tch::{Kind, Tensor};

pub use crate::golden_json as json;

/// A case's tensors file (relative to the golden folder).
pub fn tensors(rel: &str) -> Weights {
    let p = crate::golden_dir().join(rel);
    froster_model::weights::load(&p).unwrap_or_else(|e| panic!("{e}"))
}

/// The weights file a case names (relative to the case folder).
pub fn case_weights(case: &str) -> Weights {
    let j = json(&format!("{case}/case.json"));
    let rel = j["weights_file"].as_str().expect("weights_file");
    tensors(&format!("{case}/{rel}"))
}

/// The reference feeds videos as [.., 3, T, H, W]; the model takes [.., T, 3, H, W].
pub fn reference_video(video: &Tensor) -> Tensor {
    video.transpose(-4, -3).contiguous()
}

/// max|got - want| <= atol + rtol * max|want|, with a message naming the tensor.
pub fn assert_close(name: &str, got: &Tensor, want: &Tensor, atol: f64, rtol: f64) {
    assert_eq!(got.size(), want.size(), "{name}: shape");
    let g = got.to_kind(Kind::Double).to_device(tch::Device::Cpu);
    let w = want.to_kind(Kind::Double);
    let err = (&g - &w).abs().max().double_value(&[]);
    let scale = w.abs().max().double_value(&[]);
    let tol = atol + rtol * scale;
    assert!(err <= tol, "{name}: max |got - ref| = {err:.3e} > {tol:.3e} (max |ref| {scale:.3e})");
}

/// Every entry equal, as integers.
pub fn assert_equal_i64(name: &str, got: &Tensor, want: &Tensor) {
    assert_eq!(got.size(), want.size(), "{name}: shape");
    let diff = got.to_kind(Kind::Int64).ne_tensor(&want.to_kind(Kind::Int64)).sum(Kind::Int64).int64_value(&[]);
    assert_eq!(diff, 0, "{name}: {diff} entries differ");
}

/// The CLIP config of a case: from the weights' shapes, checked against the case's hyper-parameters.
pub fn case_config(case: &str, w: &Weights) -> ClipConfig {
    let mut cfg = ClipConfig::from_weights(w).expect("config from weights");
    let h = &json(&format!("{case}/case.json"))["hyperparameters"];
    assert_eq!(h["embed_dim"].as_i64(), Some(cfg.embed_dim), "embed_dim");
    assert_eq!(h["vision_layers"].as_i64(), Some(cfg.vision_layers), "vision_layers");
    assert_eq!(h["vision_patch_size"].as_i64(), Some(cfg.vision_patch_size), "patch");
    if let Some(heads) = h["transformer_heads"].as_i64() {
        cfg.transformer_heads = heads;
    }
    if let Some(heads) = h["vision_heads"].as_i64() {
        cfg.vision_heads = heads;
    }
    cfg
}

/// Frames per clip (T) of a case.
pub fn case_frames(case: &str) -> i64 {
    json(&format!("{case}/case.json"))["hyperparameters"]["T"].as_i64().unwrap_or(8)
}
