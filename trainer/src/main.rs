//! froster-train: fine-tune CLIP for video with FROSTER on packs.
use anyhow::{bail, Result};
use clap::Parser;
use froster_model::layout;
use froster_train::config::ConfigArgs;
use froster_train::run_dir::Start;
use froster_train::train::{Event, Options, Trainer};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "froster-train",
    version,
    about = "Train FROSTER (student CLIP + temporal attention, frozen CLIP teacher, residual distillation) on packs",
    after_help = "The reference's YAML configs work as they are: --config configs/Kinetics/TemporalCLIP_vitb16_8x16_\
                  STAdapter_K400.yaml --opts TRAIN.CLIP_ORI_PATH ViT-B-16.pt ... (see the README's key table)."
)]
struct Cli {
    /// Pack folder made by `froster-pack build`.
    #[arg(long, required_unless_present = "print_config")]
    packs: Option<PathBuf>,
    /// Run folder: config.toml, train_log.jsonl, train.log, tb/, checkpoints/ [default: the config's OUTPUT_DIR,
    /// else out/train].
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    config: ConfigArgs,
    /// Print the effective config (and what the reference's keys became) and exit without training.
    #[arg(long)]
    print_config: bool,
    /// Continue from the run folder's last resume point (a fresh start when the folder is empty).
    #[arg(long, conflicts_with = "overwrite")]
    resume: bool,
    /// With --resume: accept config changes that are not known to be safe.
    #[arg(long, requires = "resume")]
    force: bool,
    /// Empty the run folder first (without it, a folder holding another run is refused).
    #[arg(long)]
    overwrite: bool,
    /// Refuse to train when videos of the list failed to pack (they are in the pack's failed.csv).
    #[arg(long)]
    strict: bool,
    /// cpu, cuda, cuda:N, or auto (cuda when available).
    #[arg(long, default_value = "auto")]
    device: String,
    /// Stop after this many optimizer steps in all (smoke runs); a resume point is saved there.
    #[arg(long)]
    max_steps: Option<usize>,
    /// Hide the progress bar.
    #[arg(long)]
    quiet: bool,
    /// Without a terminal (nohup, SLURM), print a progress line every N steps (and at least every 30 s).
    #[arg(long, default_value_t = 10)]
    log_every: usize,
}

fn main() -> std::process::ExitCode {
    froster_loader::exit_code(run())
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let (mut cfg, notes) = cli.config.load_noted()?;
    for n in &notes.notes {
        eprintln!("note: {n}");
    }
    if cli.print_config {
        print!("{}", cfg.to_toml());
        return Ok(());
    }
    let Some(packs) = cli.packs else { bail!("--packs is required") };
    if let Some(classes) = cfg.classes_from_pack(&packs) {
        println!(
            "DATA.CLASSES not set: using {} (class names from the dataset's folders or annotations)",
            classes.display()
        );
    }
    let out = cli.out.or(notes.out.map(PathBuf::from)).unwrap_or_else(|| PathBuf::from("out/train"));
    let start = match (cli.resume, cli.overwrite) {
        (true, _) => Start::Resume { force: cli.force },
        (_, true) => Start::Overwrite,
        _ => Start::Fresh,
    };
    let terminal = std::io::stdout().is_terminal();
    let opts = Options {
        packs,
        out: out.clone(),
        start,
        strict: cli.strict,
        device: froster_model::parse_device(&cli.device)?,
        progress: !cli.quiet && terminal,
        max_steps: cli.max_steps,
        checkpoints: true,
    };
    let batch = cfg.train.batch_size;
    let mut trainer = Trainer::new(cfg, opts)?;
    println!("training on {}; run folder {}", trainer.counts(), out.display());
    for n in trainer.notes() {
        println!("{n}");
    }
    let mut last_line = Instant::now();
    let s = trainer.run_with(|e| match e {
        Event::Step(r) if !terminal => {
            let due = r.steps_here == 1 || r.position.step % cli.log_every.max(1) == 0;
            if due || last_line.elapsed() >= Duration::from_secs(30) || r.position.step == r.total_steps {
                println!("{}", r.line(batch));
                last_line = Instant::now();
            }
        }
        Event::Validated(v, epoch) => println!("{}", v.line(epoch)),
        _ => {}
    })?;
    if !s.skipped.is_empty() {
        eprintln!("skipped {} unreadable clips, e.g. {}", s.skipped.len(), s.skipped[0]);
    }
    println!(
        "trained {} steps in {:.1} s: loss {:.4} -> {:.4}; checkpoints in {}",
        s.steps,
        s.seconds,
        s.first_loss,
        s.last_loss,
        layout::checkpoints_dir(&out).display()
    );
    Ok(())
}
