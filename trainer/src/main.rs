//! froster-train: fine-tune CLIP for video with FROSTER on packs.
use anyhow::{bail, Context, Result};
use clap::Parser;
use froster_model::layout;
use froster_train::config::ConfigArgs;
use froster_train::dist::launch::{launch, LaunchArgs};
use froster_train::dist::{DistOptions, World};
use froster_train::run_dir::Start;
use froster_train::train::{Event, Options, Trainer};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "froster-train",
    version,
    about = "Train FROSTER (student CLIP + temporal attention, frozen CLIP teacher, residual distillation) on packs",
    after_help = "The reference's YAML configs work as they are: --config configs/Kinetics/TemporalCLIP_vitb16_8x16_\
                  STAdapter_K400.yaml --opts TRAIN.CLIP_ORI_PATH ViT-B-16.pt ... (see the README's key table).\n\n\
                  Many GPUs: --nproc-per-node 8 (or torchrun --no-python --nproc-per-node 8 froster-train ...). \
                  TRAIN.BATCH_SIZE is the global batch, split over the ranks; only rank 0 writes the run folder."
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
    /// On CUDA, record each step's forward and backward as a CUDA graph at the first step and replay it after
    /// (checked against an eager run of that step; train.log says how steps ran): on or off.
    #[arg(long, value_name = "on|off", default_value = "on", action = clap::ArgAction::Set, hide_possible_values = true,
          value_parser = clap::builder::BoolishValueParser::new())]
    cuda_graph: bool,
    /// Move the next step's clips to the device while the current step runs (a thread of its own; on CUDA
    /// through pinned memory on a side stream): on or off [default: on for CUDA; off on the CPU, where that thread
    /// would take cores from the step]. The same batches in the same order either way; off copies each batch
    /// between steps while the device waits.
    #[arg(long, value_name = "on|off", hide_possible_values = true,
          value_parser = clap::builder::BoolishValueParser::new())]
    prefetch: Option<bool>,
    /// Stop after this many optimizer steps in all (smoke runs); a resume point is saved there.
    #[arg(long)]
    max_steps: Option<usize>,
    /// Hide the progress bar.
    #[arg(long)]
    quiet: bool,
    /// Without a terminal (nohup, SLURM), print a progress line every N steps (and at least every 30 s).
    #[arg(long, default_value_t = 10)]
    log_every: usize,
    #[command(flatten)]
    launch: LaunchArgs,
    /// The collective engine of a many-rank run: nccl or gloo [default: nccl on CUDA, gloo on the CPU].
    #[arg(long, value_parser = parse_backend)]
    dist_backend: Option<froster_shim::Backend>,
    /// Seconds a rank waits for a dead or hung peer before the run stops with an error.
    #[arg(long, default_value_t = 300)]
    dist_timeout: u64,
}

fn parse_backend(s: &str) -> Result<froster_shim::Backend, String> {
    match s {
        "nccl" => Ok(froster_shim::Backend::Nccl),
        "gloo" => Ok(froster_shim::Backend::Gloo),
        _ => Err(format!("'{s}' is not a backend: nccl or gloo")),
    }
}

fn main() -> std::process::ExitCode {
    froster_loader::exit_code(run())
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let (cfg, notes) = cli.config.load_noted()?;
    for n in &notes.notes {
        eprintln!("note: {n}");
    }
    if cli.print_config {
        print!("{}", cfg.to_toml());
        return Ok(());
    }
    let Some(packs) = cli.packs.clone() else { bail!("--packs is required") };
    if cli.launch.wants_launch() {
        let world = cli.launch.nproc_per_node.unwrap_or(1) * cli.launch.nnodes;
        froster_train::prepare::per_rank_batch(&cfg, world)?;
        return Ok(launch(&cli.launch, Duration::from_secs(10))?);
    }
    let dist = DistOptions { backend: cli.dist_backend, timeout: Duration::from_secs(cli.dist_timeout.max(1)) };
    let (world, device) = World::from_env(froster_model::parse_device(&cli.device)?, dist)?;
    let world = Arc::new(world);
    let out = cli.out.clone().or(notes.out.map(PathBuf::from)).unwrap_or_else(|| PathBuf::from("out/train"));
    let (rank, size) = (world.rank, world.size);
    let result = train(
        &cli,
        cfg,
        Options {
            packs,
            out,
            start: match (cli.resume, cli.overwrite) {
                (true, _) => Start::Resume { force: cli.force },
                (_, true) => Start::Overwrite,
                _ => Start::Fresh,
            },
            strict: cli.strict,
            device,
            progress: !cli.quiet && std::io::stdout().is_terminal(),
            max_steps: cli.max_steps,
            checkpoints: true,
            world,
            cuda_graph: cli.cuda_graph,
            prefetch: cli.prefetch.unwrap_or(froster_train::feed::prefetch_by_default(device)),
        },
    );
    match size {
        1 => result,
        n => result.with_context(|| format!("rank {rank} of {n}")),
    }
}

/// Trains one rank (the only one, or one of a data-parallel run: only rank 0 prints).
fn train(cli: &Cli, mut cfg: froster_train::config::Config, opts: Options) -> Result<()> {
    let main = opts.world.is_main();
    let ranks = if opts.world.size > 1 { format!(" on {} ranks", opts.world.size) } else { String::new() };
    if let Some(classes) = cfg.classes_from_pack(&opts.packs).filter(|_| main) {
        println!(
            "DATA.CLASSES not set: using {} (class names from the dataset's folders or annotations)",
            classes.display()
        );
    }
    let (out, terminal) = (opts.out.clone(), std::io::stdout().is_terminal());
    let batch = cfg.train.batch_size;
    let mut trainer = Trainer::new(cfg, opts)?;
    if !main {
        trainer.run()?;
        return Ok(());
    }
    println!("training on {}{ranks}; run folder {}", trainer.counts(), out.display());
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
