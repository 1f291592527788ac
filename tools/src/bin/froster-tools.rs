//! froster-tools: convert checkpoints to safetensors, average epoch checkpoints, patch weights.
use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use froster_model::weights;
use froster_train::average::{average, checkpoint_id};
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
    Convert { input: PathBuf, output: PathBuf },
    /// Average epoch checkpoints (checkpoint_epoch_NNNNN.*) with ids in [start, end], as the reference's tool.
    Average {
        /// Folder of epoch checkpoints (e.g. out/train/checkpoints).
        #[arg(long)]
        from: PathBuf,
        #[arg(long, default_value_t = 2)]
        start: i64,
        #[arg(long, default_value_t = 22)]
        end: i64,
        /// The raw CLIP (id 0); default: teacher.safetensors in --from.
        #[arg(long)]
        raw_clip: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
    /// weights = R * original CLIP + (1 - R) * fine-tuned, on every CLIP key.
    Patch {
        #[arg(long)]
        clip: PathBuf,
        #[arg(long)]
        checkpoint: PathBuf,
        #[arg(long)]
        ratio: f64,
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Convert { input, output } => {
            let w = weights::load(&input)?;
            weights::save(&output, &w)?;
            println!("wrote {} tensors to {}", w.len(), output.display());
        }
        Cmd::Average { from, start, end, raw_clip, out } => {
            let raw_path = raw_clip.unwrap_or_else(|| from.join("teacher.safetensors"));
            let raw = weights::load(&raw_path).with_context(|| format!("raw CLIP {}", raw_path.display()))?;
            let mut ckpts = Vec::new();
            for e in std::fs::read_dir(&from).with_context(|| format!("reading {}", from.display()))? {
                let p = e?.path();
                let name = p.file_name().unwrap_or_default().to_string_lossy().to_string();
                if let Some(id) = name.starts_with("checkpoint_epoch_").then(|| checkpoint_id(&name)).flatten() {
                    ckpts.push((id, weights::load(&p)?));
                }
            }
            if ckpts.is_empty() {
                bail!("{}: no checkpoint_epoch_* files", from.display());
            }
            ckpts.sort_by_key(|(id, _)| *id);
            let used: Vec<i64> = ckpts.iter().map(|(i, _)| *i).filter(|i| (start..=end).contains(i)).collect();
            let avg = average(&raw, &ckpts, start, end).map_err(anyhow::Error::msg)?;
            weights::save(&out, &avg)?;
            println!("averaged epochs {used:?} ({} tensors) into {}", avg.len(), out.display());
        }
        Cmd::Patch { clip, checkpoint, ratio, out } => {
            let fine = weights::load(&checkpoint)?;
            let prefixed = fine.keys().any(|k| k.starts_with("model."));
            let orig = froster_tools::clip_weights(&clip)?;
            let orig = if prefixed { orig.into_iter().map(|(k, v)| (format!("model.{k}"), v)).collect() } else { orig };
            let patched = froster_tools::patch(&orig, &fine, ratio)?;
            weights::save(&out, &patched)?;
            println!("patched {} with ratio {ratio} into {}", checkpoint.display(), out.display());
        }
    }
    Ok(())
}
