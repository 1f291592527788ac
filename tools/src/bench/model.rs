//! `froster-bench model`: image and text encode throughput of a CLIP config.
use crate::error::Result;
use froster_model::{prompt_ids, ClipConfig, Tokenizer, CONTEXT};
use serde_json::json;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// Encodes `batch` random frames and `batch` prompts with a random CLIP of `arch`: items/s as JSON.
pub fn run(arch: &str, batch: i64, device: Device) -> Result<serde_json::Value> {
    let cfg = ClipConfig::preset(arch)?;
    let vs = tch::nn::VarStore::new(device);
    let clip = froster_model::Clip::new(&vs.root(), &cfg);
    let img = Tensor::randn([batch, 3, cfg.image_resolution, cfg.image_resolution], (Kind::Float, device));
    let names = vec!["Playing guitar: a person plays a guitar".to_string(); batch as usize];
    let ids = prompt_ids(&Tokenizer::new(), &[8], &names, CONTEXT)?.to_device(device);
    let time = |f: &dyn Fn()| {
        f();
        let t0 = Instant::now();
        for _ in 0..3 {
            f();
        }
        3.0 * batch as f64 / t0.elapsed().as_secs_f64()
    };
    let image = time(&|| {
        tch::no_grad(|| {
            let _ = clip.encode_image(&img, None).sum(Kind::Float).double_value(&[]);
        })
    });
    let text = time(&|| {
        tch::no_grad(|| {
            let _ = clip.encode_text(&ids).sum(Kind::Float).double_value(&[]);
        })
    });
    Ok(
        json!({"arch": arch, "device": format!("{device:?}"), "batch": batch, "images_per_s": image, "texts_per_s": text}),
    )
}
