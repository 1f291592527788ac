//! froster-predict: open-vocabulary recognition of your own videos with any class list.
use anyhow::{bail, Result};
use clap::Parser;
use froster_loader::{read_classes, ClipSource, VideoSource};
use froster_model::Tokenizer;
use froster_tools::evaluate::{score_views, test_loader};
use froster_tools::run::{checkpoint_and_config, TestFlags};
use froster_train::eval::{eval_classifier, Ensemble};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(name = "froster-predict", version, about = "Top-k action labels for your videos, with any class list")]
struct Cli {
    /// A video file, or a folder of videos.
    input: PathBuf,
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
    /// One JSON line per video.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    test: TestFlags,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    device: String,
}

fn videos(input: &PathBuf) -> Result<Vec<PathBuf>> {
    if input.is_dir() {
        let mut v: Vec<PathBuf> =
            std::fs::read_dir(input)?.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
        v.sort();
        Ok(v)
    } else if input.exists() {
        Ok(vec![input.clone()])
    } else {
        bail!("{}: no such file or folder", input.display())
    }
}

/// Errors as one line (`error: ...` with its causes), whatever RUST_BACKTRACE says, and exit code 1.
fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let device = froster_model::parse_device(&cli.device)?;
    let classes = read_classes(&cli.classes)?;
    let (checkpoint, run) = checkpoint_and_config(&cli.checkpoint)?;
    let settings = cli.test.resolve(run.as_ref())?;
    let (_vs, clip) = froster_tools::eval_model(&checkpoint, None, device)?;
    let (_, cls) = eval_classifier(&clip, &Tokenizer::new(), &classes, device)?;
    let crop = clip.config.image_resolution as usize;
    let mut failed = 0;
    for path in videos(&cli.input)? {
        let (root, name) =
            (path.parent().unwrap().to_path_buf(), path.file_name().unwrap().to_string_lossy().to_string());
        let mut src = VideoSource::new(root, vec![(name, 0)]);
        src.short_side = settings.crop.unwrap_or(crop).max(1) as u32;
        if let Err(e) = src.stream(0) {
            failed += 1;
            eprintln!("{}: error: {e}", path.display());
            continue;
        }
        let cfg = froster_loader::LoaderConfig {
            strict: true,
            ..test_loader(&settings, crop, settings.views * settings.crops, 1)
        };
        let scored = score_views(Arc::new(src), &clip, &cls, cfg, &indicatif::ProgressBar::hidden());
        let (ens, err) = match scored {
            Ok((e, _)) => (e, None),
            Err(e) => (Ensemble::default(), Some(e)),
        };
        let Some((sums, n, _)) = ens.sums.get(&0).filter(|_| err.is_none()) else {
            failed += 1;
            eprintln!("{}: error: {}", path.display(), err.map(|e| e.to_string()).unwrap_or("no clip decoded".into()));
            continue;
        };
        // Probabilities for display: softmax of the mean view logits (the reference ranks by the sum; same order).
        let mean: Vec<f64> = sums.iter().map(|s| *s as f64 / *n as f64).collect();
        let mx = mean.iter().cloned().fold(f64::MIN, f64::max);
        let z: f64 = mean.iter().map(|x| (x - mx).exp()).sum();
        let top: Vec<(String, f64)> = Ensemble::topk(sums, cli.top_k)
            .into_iter()
            .map(|c| (froster_tools::evaluate::short_name(&classes[c]), (mean[c] - mx).exp() / z))
            .collect();
        if cli.json {
            let labels: Vec<_> = top.iter().map(|(l, p)| serde_json::json!({"label": l, "probability": p})).collect();
            println!("{}", serde_json::json!({"video": path.display().to_string(), "top": labels}));
        } else {
            println!("{}", path.display());
            for (l, p) in &top {
                println!("  {:>6.2}%  {l}", p * 100.0);
            }
        }
    }
    if failed > 0 {
        eprintln!("{failed} videos could not be read");
    }
    Ok(())
}
