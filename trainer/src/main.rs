//! froster-train: fine-tune CLIP for video with FROSTER on packs.
use anyhow::Result;
use clap::Parser;
use froster_model::layout;
use froster_train::config::ConfigArgs;
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
    #[command(flatten)]
    config: ConfigArgs,
    /// Continue from checkpoints/resume/latest.json in --out.
    #[arg(long)]
    resume: bool,
    /// cpu, cuda, cuda:N, or auto (cuda when available).
    #[arg(long, default_value = "auto")]
    device: String,
    /// Stop after this many optimizer steps in all (smoke runs); a resume point is saved there.
    #[arg(long)]
    max_steps: Option<usize>,
    /// Hide the progress bar.
    #[arg(long)]
    quiet: bool,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let mut cfg = cli.config.load()?;
    if let Some(classes) = cfg.classes_from_pack(&cli.packs) {
        println!(
            "DATA.CLASSES not set: using {} (class names from the dataset's folders or annotations)",
            classes.display()
        );
    }
    let opts = Options {
        packs: cli.packs,
        out: cli.out.clone(),
        resume: cli.resume,
        device: froster_model::parse_device(&cli.device)?,
        progress: !cli.quiet,
        max_steps: cli.max_steps,
        checkpoints: true,
    };
    let mut trainer = Trainer::new(cfg, opts)?;
    let s = trainer.run()?;
    if !s.skipped.is_empty() {
        eprintln!("skipped {} unreadable clips, e.g. {}", s.skipped.len(), s.skipped[0]);
    }
    println!(
        "trained {} steps in {:.1} s: loss {:.4} -> {:.4}; checkpoints in {}",
        s.steps,
        s.seconds,
        s.first_loss,
        s.last_loss,
        layout::checkpoints_dir(&cli.out).display()
    );
    Ok(())
}
