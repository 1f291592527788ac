//! froster-tools: convert checkpoints to safetensors, average epoch checkpoints, patch weights.
use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use froster_model::{layout, weights};
use froster_tools::average::{average, epoch_checkpoints};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "froster-tools", version, about = "Checkpoint tools: convert, average, patch")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Convert OpenAI .pt, FROSTER .pth or safetensors into safetensors (f32 kept as stored; nothing executed).
    Convert {
        /// The checkpoint to read.
        input: PathBuf,
        /// The safetensors file to write.
        output: PathBuf,
    },
    /// Average epoch checkpoints (checkpoint_epoch_NNNNN.*) with ids in [start, end], as the reference's tool.
    Average {
        /// Folder of epoch checkpoints (e.g. out/train/checkpoints).
        #[arg(long)]
        from: PathBuf,
        /// First epoch id to average (0 is the raw CLIP).
        #[arg(long, default_value_t = 2)]
        start: i64,
        /// Last epoch id to average.
        #[arg(long, default_value_t = 22)]
        end: i64,
        /// The raw CLIP (id 0); default: teacher.safetensors in --from.
        #[arg(long)]
        raw_clip: Option<PathBuf>,
        /// The averaged safetensors file.
        #[arg(long)]
        out: PathBuf,
    },
    /// weights = R * original CLIP + (1 - R) * fine-tuned, on every CLIP key.
    Patch {
        /// The original CLIP.
        #[arg(long)]
        clip: PathBuf,
        /// The fine-tuned checkpoint.
        #[arg(long)]
        checkpoint: PathBuf,
        /// R, the original's share, in [0, 1] (froster-eval's --patch-ratio).
        #[arg(long, alias = "ratio")]
        patch_ratio: f64,
        /// The patched safetensors file.
        #[arg(long)]
        out: PathBuf,
    },
    /// The base-to-novel table over seeds: each --row NAME=DIR[,DIR...] names froster-eval's b2n output folders
    /// (their b2n.json); prints Base / Novel / HM as mean ± std and writes b2n_table.{md,json,png} to --out.
    B2nTable {
        /// A row: NAME=DIR,DIR,... (one folder per seed), in table order; repeat.
        #[arg(long = "row", required = true)]
        rows: Vec<String>,
        /// Folder for b2n_table.md, b2n_table.json and b2n_table.png.
        #[arg(long)]
        out: PathBuf,
    },
    /// Draw a run's loss parts, learning rate and validation top-1 (from train_log.jsonl) as a PNG.
    Plot {
        /// The run folder (froster-train --out).
        run: PathBuf,
        /// The PNG to write [default: RUN/curves.png].
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn main() -> std::process::ExitCode {
    froster_loader::exit_code(run())
}

fn run() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Convert { input, output } => {
            let w = weights::load(&input)?;
            if w.is_empty() {
                anyhow::bail!("{}: no tensor in it (not a state dict); nothing written", input.display());
            }
            weights::save(&output, &w)?;
            println!("wrote {} tensors to {}", w.len(), output.display());
        }
        Cmd::Average { from, start, end, raw_clip, out } => {
            let raw_path = raw_clip.unwrap_or_else(|| from.join(layout::TEACHER_FILE));
            let raw = weights::load(&raw_path).with_context(|| format!("raw CLIP {}", raw_path.display()))?;
            let ckpts = epoch_checkpoints(&from)?;
            let used: Vec<i64> = ckpts.iter().map(|(i, _)| *i).filter(|i| (start..=end).contains(i)).collect();
            let avg = average(&raw, &ckpts, start, end)?;
            weights::save(&out, &avg)?;
            println!("averaged epochs {used:?} ({} tensors) into {}", avg.len(), out.display());
        }
        Cmd::B2nTable { rows, out } => {
            let spec = rows
                .iter()
                .map(|r| {
                    let (name, dirs) =
                        r.split_once('=').with_context(|| format!("--row '{r}': want NAME=DIR[,DIR...]"))?;
                    Ok((name.to_string(), dirs.split(',').filter(|d| !d.is_empty()).map(PathBuf::from).collect()))
                })
                .collect::<Result<Vec<_>>>()?;
            let rows = froster_tools::table::rows(&spec)?;
            froster_tools::table::write(&out, &rows)?;
            print!("{}", froster_tools::table::markdown(&rows));
            println!("(mean ± std over seeds; HM per run, then averaged) -> {}", out.join("b2n_table.md").display());
        }
        Cmd::Plot { run, out } => {
            let out = out.unwrap_or_else(|| run.join("curves.png"));
            let steps = froster_tools::plot::plot_run(&run, &out)?;
            println!("drew {steps} steps into {}", out.display());
        }
        Cmd::Patch { clip, checkpoint, patch_ratio: ratio, out } => {
            let fine = weights::load(&checkpoint)?;
            let prefixed = fine.keys().any(|k| k.starts_with(layout::STUDENT));
            let orig = froster_tools::clip_weights(&clip)?;
            let orig = if prefixed { layout::as_student(&orig) } else { orig };
            let patched = froster_tools::patch(&orig, &fine, ratio)?;
            weights::save(&out, &patched)?;
            println!("patched {} with ratio {ratio} into {}", checkpoint.display(), out.display());
        }
    }
    Ok(())
}
