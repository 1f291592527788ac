//! froster-predict: open-vocabulary recognition of your own videos with any class list.
use anyhow::{bail, Context, Result};
use clap::Parser;
use froster_loader::{read_classes, ClipSource, VideoSource};
use froster_model::Tokenizer;
use froster_pack::discover::{is_video, VIDEO_EXTENSIONS};
use froster_tools::evaluate::{score_views, test_loader};
use froster_tools::run::{checkpoint_and_config, TestFlags};
use froster_train::eval::{eval_classifier, Ensemble};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Parser)]
#[command(name = "froster-predict", version, about = "Top-k action labels for your videos, with any class list")]
struct Cli {
    /// A video file, or a folder of videos (files with a video extension; see --recursive).
    input: PathBuf,
    /// Also label the videos in the folder's sub-folders.
    #[arg(long)]
    recursive: bool,
    /// Also write every result (and every error) to OUT/predictions.json.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Checkpoint: ours, FROSTER .pth, OpenAI ViT-B-16.pt or safetensors; or a run folder (its newest epoch
    /// checkpoint). A run's config.toml gives the test settings that no flag sets.
    #[arg(long)]
    checkpoint: PathBuf,
    /// classes.txt (one per line) or a rephrased JSON ({"0": "Name: description"}).
    #[arg(long)]
    classes: PathBuf,
    /// How many labels to print per video.
    #[arg(long, default_value_t = 5)]
    top_k: usize,
    /// One JSON line per video: its labels, or its error.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    test: TestFlags,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    device: String,
}

/// The videos to label: the file, or the video files of the folder (by extension; sub-folders with
/// --recursive), sorted.
fn videos(input: &Path, recursive: bool) -> Result<Vec<PathBuf>> {
    if !input.is_dir() {
        if !input.exists() {
            bail!("{}: no such file or folder", input.display());
        }
        return Ok(vec![input.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut dirs = vec![input.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))?.flatten() {
            let p = e.path();
            if p.is_dir() && recursive {
                dirs.push(p);
            } else if p.is_file() && is_video(&p) {
                out.push(p);
            }
        }
    }
    out.sort();
    if out.is_empty() {
        bail!(
            "{}: no video files ({}){}",
            input.display(),
            VIDEO_EXTENSIONS.join(", "),
            if recursive { "" } else { "; --recursive looks in sub-folders" }
        );
    }
    Ok(out)
}

/// Labels of one video: (short class name, probability), best first.
fn predict(path: &Path, m: &Model, cli: &Cli) -> Result<Vec<(String, f64)>, String> {
    let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut src = VideoSource::new(root, vec![(name, 0)]);
    src.short_side = m.settings.crop.unwrap_or(m.crop).max(1) as u32;
    src.stream(0).map_err(|e| e.to_string())?;
    let views = m.settings.views * m.settings.crops;
    let cfg = froster_loader::LoaderConfig { strict: true, ..test_loader(&m.settings, m.crop, views, 1) };
    let (ens, _) = score_views(Arc::new(src), &m.clip, &m.cls, cfg, &indicatif::ProgressBar::hidden())
        .map_err(|e| e.to_string())?;
    let (sums, n, _) = ens.sums.get(&0).ok_or("no clip decoded")?;
    // Probabilities for display: softmax of the mean view logits (the reference ranks by the sum; same order).
    let mean: Vec<f64> = sums.iter().map(|s| *s as f64 / *n as f64).collect();
    let mx = mean.iter().cloned().fold(f64::MIN, f64::max);
    let z: f64 = mean.iter().map(|x| (x - mx).exp()).sum();
    let top = Ensemble::topk(sums, cli.top_k).into_iter();
    Ok(top.map(|c| (froster_tools::evaluate::short_name(&m.classes[c]), (mean[c] - mx).exp() / z)).collect())
}

/// The model and what scoring needs.
struct Model {
    _vs: tch::nn::VarStore,
    clip: froster_model::Clip,
    cls: tch::Tensor,
    classes: Vec<String>,
    settings: froster_tools::run::TestSettings,
    crop: usize,
}

/// An error's text without the path in front (the caller names the video once).
fn without_path(e: &str, path: &Path) -> String {
    let p = path.display().to_string();
    e.strip_prefix(&p).map(|r| r.trim_start_matches(':').trim().to_string()).unwrap_or_else(|| e.to_string())
}

fn main() -> std::process::ExitCode {
    froster_loader::exit_code(run())
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let device = froster_model::parse_device(&cli.device)?;
    let classes = read_classes(&cli.classes)?;
    let (checkpoint, run) = checkpoint_and_config(&cli.checkpoint)?;
    let settings = cli.test.resolve(run.as_ref())?;
    let inputs = videos(&cli.input, cli.recursive)?;
    let (vs, clip) = froster_tools::eval_model(&checkpoint, None, device)?;
    let (_, cls) = eval_classifier(&clip, &Tokenizer::new(), &classes, device)?;
    let crop = clip.config.image_resolution as usize;
    let m = Model { _vs: vs, clip, cls, classes, settings, crop };
    let mut results = Vec::new();
    let mut failed = 0;
    for path in &inputs {
        let line = match predict(path, &m, &cli) {
            Ok(top) => {
                if !cli.json {
                    println!("{}", path.display());
                    for (l, p) in &top {
                        println!("  {:>6.2}%  {l}", p * 100.0);
                    }
                }
                let labels: Vec<_> =
                    top.iter().map(|(l, p)| serde_json::json!({"label": l, "probability": p})).collect();
                serde_json::json!({"video": path.display().to_string(), "top": labels})
            }
            Err(e) => {
                failed += 1;
                let e = without_path(&e, path);
                if !cli.json {
                    eprintln!("{}: {e}", path.display());
                }
                serde_json::json!({"video": path.display().to_string(), "error": e})
            }
        };
        if cli.json {
            println!("{line}");
        }
        results.push(line);
    }
    if let Some(out) = &cli.out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        let file = out.join("predictions.json");
        std::fs::write(&file, serde_json::to_string_pretty(&results)?)
            .with_context(|| format!("writing {}", file.display()))?;
    }
    if failed == inputs.len() {
        bail!("none of the {} videos could be read", inputs.len());
    }
    if failed > 0 {
        eprintln!("{failed} of {} videos could not be read", inputs.len());
    }
    Ok(())
}
