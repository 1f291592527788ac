//! froster-train: fine-tune CLIP for video with FROSTER on packs.
use anyhow::{Context, Result};
use clap::Parser;
use froster_train::config::{preset, Config};
use froster_train::train::{Options, Trainer};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "froster-train",
    version,
    about = "Train FROSTER (student CLIP + temporal attention, frozen CLIP teacher, residual distillation) on packs"
)]
struct Cli {
    /// Pack folder made by `froster-pack build`.
    #[arg(long)]
    packs: PathBuf,
    /// Output folder: config.toml, train_log.jsonl, checkpoints/.
    #[arg(long, default_value = "out/train")]
    out: PathBuf,
    /// Named preset: b2n_k400, b2n_hmdb, b2n_ucf101, b2n_ssv2, k400_cross, tiny.
    #[arg(long)]
    preset: Option<String>,
    /// TOML config files (reference key names), applied after the preset.
    #[arg(long = "config")]
    configs: Vec<PathBuf>,
    /// Override one key, e.g. --set SOLVER.BASE_LR=1e-5 --set MODEL.CLIP=ViT-B-16.pt (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Continue from checkpoints/resume/latest.json in --out.
    #[arg(long)]
    resume: bool,
    /// cpu, cuda, or auto (cuda when available).
    #[arg(long, default_value = "auto")]
    device: String,
    /// Stop after this many optimizer steps (smoke runs).
    #[arg(long)]
    max_steps: Option<usize>,
    /// Hide the progress bar.
    #[arg(long)]
    quiet: bool,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let mut overlays = Vec::new();
    if let Some(p) = &cli.preset {
        overlays.push(preset(p).map_err(anyhow::Error::msg)?);
    }
    for c in &cli.configs {
        overlays.push(std::fs::read_to_string(c).with_context(|| format!("reading {}", c.display()))?);
    }
    let mut cfg = Config::build(&overlays, &cli.sets).map_err(anyhow::Error::msg)?;
    if let Some(classes) = cfg.classes_from_pack(&cli.packs) {
        println!(
            "DATA.CLASSES not set: using {} (class names from the dataset's folders or annotations)",
            classes.display()
        );
    }
    let device = froster_train::parse_device(&cli.device)?;
    let opts = Options {
        packs: cli.packs,
        out: cli.out.clone(),
        resume: cli.resume,
        device,
        progress: !cli.quiet,
        max_steps: cli.max_steps,
    };
    let mut trainer = Trainer::new(cfg, opts)?;
    let s = trainer.run()?;
    println!(
        "trained {} steps in {:.1} s: loss {:.4} -> {:.4}; checkpoints in {}",
        s.steps,
        s.seconds,
        s.first_loss,
        s.last_loss,
        cli.out.join("checkpoints").display()
    );
    Ok(())
}
