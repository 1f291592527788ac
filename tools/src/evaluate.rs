//! Multi-view evaluation of a pack list, and the paper's protocol tables.
use anyhow::{bail, Result};
use froster_loader::{ClipSource, Loader, LoaderConfig, Mode, PackReader, PackSource, SamplingConfig};
use froster_model::{Clip, Tokenizer};
use froster_train::eval::{eval_classifier, view_logits, Ensemble};
use froster_train::train::clips_to_tensor;
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use tch::Device;

#[derive(Debug, Clone)]
pub struct EvalOptions {
    pub views: usize,
    pub crops: usize,
    pub batch: usize,
    pub workers: usize,
    pub frames: usize,
    pub sampling_rate: usize,
    pub device: Device,
    pub progress: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct VideoPrediction {
    pub video: String,
    pub label: i64,
    pub top5: Vec<usize>,
    pub correct: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalResult {
    pub list: String,
    pub top1: f64,
    pub top5: f64,
    pub videos: usize,
    pub views_per_video: usize,
    pub per_class_top1: Vec<(usize, String, usize, f64)>,
    #[serde(skip)]
    pub predictions: Vec<VideoPrediction>,
}

pub fn evaluate(
    reader: Arc<PackReader>,
    list: &str,
    clip: &Clip,
    classes: &[String],
    o: &EvalOptions,
) -> Result<EvalResult> {
    let src = Arc::new(PackSource::new(reader, list)?);
    if src.is_empty() {
        bail!("list '{list}' is empty");
    }
    if let Some(bad) = (0..src.len()).map(|i| src.label(i)).find(|l| *l < 0 || *l as usize >= classes.len()) {
        bail!("list '{list}' has label {bad}, but the class file has {} classes", classes.len());
    }
    let crop = clip.config.image_resolution as usize;
    let cfg = LoaderConfig {
        batch_size: o.batch,
        workers: o.workers,
        mode: Mode::Test { scale: crop },
        crop,
        sampling: SamplingConfig {
            num_frames: o.frames,
            sampling_rate: o.sampling_rate,
            num_views: o.views,
            num_crops: o.crops,
            ..Default::default()
        },
        shuffle: false,
        ..Default::default()
    };
    let (_, cls) = eval_classifier(clip, &Tokenizer::new(), classes, o.device)?;
    let total = froster_loader::pipeline::clips_per_epoch(src.as_ref(), &cfg);
    let bar = froster_train::progress(o.progress, total as u64, 0);
    let ens = score_views(src.clone(), clip, &cls, o.frames, cfg, o.device, &bar)?;
    bar.finish_and_clear();
    let (top1, top5) = ens.accuracy();
    let predictions: Vec<VideoPrediction> = ens
        .sums
        .iter()
        .map(|(v, (s, _, l))| {
            let top5 = Ensemble::topk(s, 5);
            VideoPrediction { video: src.id(*v).to_string(), label: *l, correct: top5[0] as i64 == *l, top5 }
        })
        .collect();
    let per_class_top1 = (0..classes.len())
        .filter_map(|c| {
            let rows: Vec<_> = predictions.iter().filter(|p| p.label as usize == c).collect();
            (!rows.is_empty()).then(|| {
                let acc = 100.0 * rows.iter().filter(|p| p.correct).count() as f64 / rows.len() as f64;
                (c, short_name(&classes[c]), rows.len(), acc)
            })
        })
        .collect();
    Ok(EvalResult {
        list: list.into(),
        top1,
        top5,
        videos: predictions.len(),
        views_per_video: o.views * o.crops,
        per_class_top1,
        predictions,
    })
}

/// Runs every test view of `src` through `clip` and sums the per-view logits per video (the reference's test).
pub fn score_views(
    src: Arc<dyn ClipSource>,
    clip: &Clip,
    cls: &tch::Tensor,
    frames: usize,
    cfg: LoaderConfig,
    device: Device,
    bar: &indicatif::ProgressBar,
) -> Result<Ensemble> {
    let mut ens = Ensemble::default();
    let mut loader = Loader::new(src, cfg)?;
    while let Some(b) = loader.next() {
        let b = b?;
        let logits = view_logits(clip, frames as i64, &clips_to_tensor(&b, device), cls);
        ens.add(&logits, &b.videos, &b.labels);
        bar.inc(b.labels.len() as u64);
        loader.recycle(b);
    }
    Ok(ens)
}

pub fn short_name(class: &str) -> String {
    class.split(':').next().unwrap_or(class).trim().to_string()
}

fn csv(s: &str) -> String {
    if s.contains([',', '"']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// predictions.csv, per_class.csv, per_class.png and summary.json in `dir`.
pub fn write_outputs(dir: &Path, r: &EvalResult, classes: &[String]) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut p = String::from("video,label,predicted,top5,correct\n");
    for v in &r.predictions {
        let top5: Vec<String> = v.top5.iter().map(|c| c.to_string()).collect();
        p.push_str(&format!("{},{},{},{},{}\n", csv(&v.video), v.label, v.top5[0], top5.join(" "), v.correct as u8));
    }
    std::fs::write(dir.join("predictions.csv"), p)?;
    let mut c = String::from("class,name,videos,top1\n");
    for (id, name, n, acc) in &r.per_class_top1 {
        c.push_str(&format!("{id},{},{n},{acc:.2}\n", csv(name)));
    }
    std::fs::write(dir.join("per_class.csv"), c)?;
    crate::chart::bar_chart(&dir.join("per_class.png"), &r.per_class_top1.iter().map(|x| x.3).collect::<Vec<_>>())?;
    let mut j = serde_json::to_value(r)?;
    j["classes"] = classes.len().into();
    std::fs::write(dir.join("summary.json"), serde_json::to_string_pretty(&j)?)?;
    Ok(())
}

/// Harmonic mean of base and novel accuracy, as the paper's B2N tables.
pub fn harmonic_mean(base: f64, novel: f64) -> f64 {
    if base + novel == 0.0 {
        0.0
    } else {
        2.0 * base * novel / (base + novel)
    }
}

/// Mean and (population, as numpy's default) standard deviation.
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    (m, (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n).sqrt())
}
