//! Multi-view evaluation of a pack list, and the paper's protocol tables.
use crate::error::{io_err, Error, Result};
use crate::run::TestSettings;
use froster_loader::{ClipSource, Loader, LoaderConfig, PackReader, PackSource, SamplingConfig};
use froster_model::{Clip, Tokenizer};
use froster_train::dist::World;
use froster_train::eval::{eval_classifier, eval_step, Ensemble};
use froster_train::feed::{prefetch_by_default, Feed};
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use tch::Device;

/// How to evaluate.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Views, crops, frames, stride and crop size.
    pub settings: TestSettings,
    /// Views per batch.
    pub batch: usize,
    /// Loader threads.
    pub workers: usize,
    /// Where the model runs.
    pub device: Device,
    /// Show a progress bar.
    pub progress: bool,
    /// Refuse a list whose videos did not all pack.
    pub strict: bool,
    /// The ranks that share the videos ([`World::single`] for one process); every rank gets the whole result.
    pub world: Arc<World>,
}

/// One video's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct VideoPrediction {
    /// The video's id.
    pub video: String,
    /// Its label.
    pub label: i64,
    /// The five best classes, best first.
    pub top5: Vec<usize>,
    /// Whether the best is the label.
    pub correct: bool,
}

/// A list's evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct EvalResult {
    /// The pack list.
    pub list: String,
    /// Top-1 accuracy, percent.
    pub top1: f64,
    /// Top-5 accuracy, percent.
    pub top5: f64,
    /// Videos the list named when the pack was built.
    pub listed: usize,
    /// Videos evaluated.
    pub videos: usize,
    /// Listed videos that are not in the pack (failed.csv).
    pub missing: Vec<String>,
    /// Views per video (temporal views x crops).
    pub views_per_video: usize,
    /// Per class: (id, short name, videos, top-1).
    pub per_class_top1: Vec<(usize, String, usize, f64)>,
    /// Per video.
    #[serde(skip)]
    pub predictions: Vec<VideoPrediction>,
    /// Views the loader skipped as unreadable, with the reason.
    pub skipped: Vec<String>,
}

/// The loader settings of the test views (short side `crop` unless the settings give one).
pub fn test_loader(s: &TestSettings, crop: usize, batch: usize, workers: usize) -> LoaderConfig {
    let sampling = SamplingConfig {
        num_frames: s.frames,
        sampling_rate: s.sampling_rate,
        num_views: s.views,
        num_crops: s.crops,
        ..Default::default()
    };
    froster_train::eval::test_loader(sampling, s.crop.unwrap_or(crop), batch, workers)
}

impl EvalResult {
    /// What was evaluated, against what was listed: "evaluated 3 of 5 listed (2 in failed.csv, e.g. ...)".
    pub fn coverage(&self) -> String {
        let mut s = format!("evaluated {} of {} listed", self.videos, self.listed);
        if !self.missing.is_empty() {
            s += &format!(" ({} in failed.csv, e.g. {})", self.missing.len(), self.missing[0]);
        }
        let unread = self.listed.saturating_sub(self.missing.len() + self.videos);
        if unread > 0 {
            s += &format!("; {unread} packed videos gave no readable view");
        }
        s
    }
}

/// Evaluates `list` of the pack with `classes`: every test view, logits summed per video.
pub fn evaluate(
    reader: Arc<PackReader>,
    list: &str,
    clip: &Clip,
    classes: &[String],
    o: &EvalOptions,
) -> Result<EvalResult> {
    let counts = reader.list_counts(list)?;
    if o.strict && !counts.missing.is_empty() {
        return Err(Error::Argument(format!("list '{list}': {counts} (--strict)")));
    }
    let src = Arc::new(PackSource::new(reader, list)?);
    if src.is_empty() {
        return Err(Error::EmptyList(list.into()));
    }
    if let Some(label) = (0..src.len()).map(|i| src.label(i)).find(|l| *l < 0 || *l as usize >= classes.len()) {
        return Err(Error::LabelOutOfRange { list: list.into(), label, classes: classes.len() });
    }
    let mut cfg = test_loader(&o.settings, clip.config.image_resolution as usize, o.batch, o.workers);
    cfg.shard = o.world.shard();
    let (_, cls) = eval_classifier(clip, &Tokenizer::new(), classes, o.device)?;
    let total = froster_loader::clips_per_epoch(src.as_ref(), &cfg);
    let bar = crate::progress(o.progress && o.world.is_main(), total as u64, "views");
    let (ens, skipped) = score_views(src.clone(), clip, &cls, cfg, &bar)?;
    bar.finish_and_clear();
    // Each rank scored its share of the videos: every rank gets all the sums, and every rank's skip reasons.
    let ens = ens.gather(&o.world, src.len(), classes.len()).map_err(|e| Error::Argument(e.to_string()))?;
    let skipped = gather_lines(&o.world, &format!("eval/{list}/skipped"), skipped)?;
    if ens.sums.is_empty() {
        return Err(Error::Argument(format!("list '{list}': no view could be read ({} skipped)", skipped.len())));
    }
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
        listed: counts.listed,
        videos: predictions.len(),
        missing: counts.missing,
        views_per_video: o.settings.views * o.settings.crops,
        per_class_top1,
        predictions,
        skipped,
    })
}

/// Runs every test view of `src` through `clip` and sums the per-view logits per video (the reference's test);
/// also returns why each skipped view was skipped. On CUDA the next views move to the device while the current
/// ones are scored.
pub fn score_views(
    src: Arc<dyn ClipSource>,
    clip: &Clip,
    cls: &tch::Tensor,
    cfg: LoaderConfig,
    bar: &indicatif::ProgressBar,
) -> Result<(Ensemble, Vec<String>)> {
    let frames = cfg.sampling.num_frames as i64;
    let mut ens = Ensemble::default();
    let device = cls.device();
    let mut feed = Feed::new(Loader::new(src, cfg)?, device, prefetch_by_default(device), 1)?;
    for fed in feed.by_ref() {
        let fed = fed?;
        ens.add(&eval_step(clip, frames, &fed.clips, cls), &fed.videos, &fed.labels);
        bar.inc(fed.labels.len() as u64);
    }
    Ok((ens, feed.finish()))
}

/// Every rank's lines, in rank order, through the group's store (the skip reasons of a sharded evaluation).
fn gather_lines(world: &World, key: &str, lines: Vec<String>) -> Result<Vec<String>> {
    let Some(g) = world.group() else { return Ok(lines) };
    let dist = |e: froster_shim::Error| Error::Argument(format!("distributed evaluation: {e}"));
    g.store_set(&format!("{key}/{}", world.rank), lines.join("\n").as_bytes()).map_err(dist)?;
    g.barrier().map_err(dist)?;
    let mut all = Vec::new();
    for r in 0..world.size {
        let text = g.store_get(&format!("{key}/{r}")).map_err(dist)?.unwrap_or_default();
        all.extend(String::from_utf8_lossy(&text).lines().map(String::from));
    }
    Ok(all)
}

/// "Name: description" -> "Name".
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
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(io_err(&path))
    };
    let mut p = String::from("video,label,predicted,top5,correct\n");
    for v in &r.predictions {
        let top5: Vec<String> = v.top5.iter().map(|c| c.to_string()).collect();
        p.push_str(&format!("{},{},{},{},{}\n", csv(&v.video), v.label, v.top5[0], top5.join(" "), v.correct as u8));
    }
    write("predictions.csv", p)?;
    let mut c = String::from("class,name,videos,top1\n");
    for (id, name, n, acc) in &r.per_class_top1 {
        c.push_str(&format!("{id},{},{n},{acc:.2}\n", csv(name)));
    }
    write("per_class.csv", c)?;
    let rows: Vec<_> = r.per_class_top1.iter().map(|(_, name, n, acc)| (name.clone(), *acc, *n)).collect();
    let title = format!("{}: top-1 {:.2}% over {} videos, {} classes", r.list, r.top1, r.videos, rows.len());
    crate::chart::per_class(&dir.join("per_class.png"), &title, &rows)?;
    let mut j = serde_json::json!(r);
    j["classes"] = classes.len().into();
    write("summary.json", serde_json::to_string_pretty(&j).unwrap_or_default())
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
