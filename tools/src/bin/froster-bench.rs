//! froster-bench: throughput numbers (never timed tests): loader, pack formats, model encode, train and eval steps.
use anyhow::Result;
use clap::{Parser, Subcommand};
use froster_tools::bench::{self, loader::LoaderArgs, step::StepArgs};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "froster-bench",
    version,
    about = "Benchmarks that print numbers: loader, pack formats, model, kernels, train-step, eval-step"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Clips/s for train 8x16 at 224 and views/s for test, from packs and from videos, 1 thread and N threads.
    Loader(LoaderArgs),
    /// Bytes per frame and decode ms per frame of pack options on a folder of videos.
    Pack {
        /// A folder of videos.
        videos: PathBuf,
        /// Short side of the stored frames.
        #[arg(long, default_value_t = 256)]
        short_side: u32,
    },
    /// Image/text encode throughput of a CLIP config.
    Model {
        /// CLIP preset.
        #[arg(long, default_value = "tiny")]
        arch: String,
        /// Items per batch.
        #[arg(long, default_value_t = 16)]
        batch: i64,
        /// cpu, cuda, cuda:N or auto.
        #[arg(long, default_value = "auto")]
        device: String,
    },
    /// The fused QuickGELU against the eager ops on a device: largest value and gradient differences (from an f64
    /// reference) and ms per forward+backward, a JSON line per dtype.
    Kernels {
        /// Rows of the activation (ViT-B/16 at batch 32 x 8 frames: 256 x 197 = 50432).
        #[arg(long, default_value_t = 50432)]
        rows: i64,
        /// Its width (4 x the transformer width: 3072 for ViT-B/16).
        #[arg(long, default_value_t = 3072)]
        width: i64,
        /// Timed repetitions.
        #[arg(long, default_value_t = 20)]
        reps: usize,
        /// cpu, cuda, cuda:N or auto.
        #[arg(long, default_value = "auto")]
        device: String,
    },
    /// froster-train's optimizer step: clips/s, ms/step, MFU, data-wait with --packs.
    TrainStep(StepArgs),
    /// One evaluation forward (classifier cached): clips/s, ms/step, MFU.
    EvalStep(StepArgs),
    /// Writes the token ids [29, C, 77] of every prompt of a class file (safetensors, key `ids`), for the PyTorch
    /// peer (bench/pytorch_peer), so that both sides run the same prompts.
    Prompts {
        /// Class names: a rephrased JSON or a text file, one per line.
        #[arg(long)]
        classes: PathBuf,
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> std::process::ExitCode {
    froster_loader::exit_code(run())
}

fn run() -> Result<()> {
    let json = match Cli::parse().cmd {
        Cmd::Loader(a) => serde_json::to_string_pretty(&bench::loader::run(a)?)?,
        Cmd::Pack { videos, short_side } => bench::pack::run(&videos, short_side)?,
        Cmd::Model { arch, batch, device } => {
            bench::model::run(&arch, batch, froster_model::parse_device(&device)?)?.to_string()
        }
        Cmd::Kernels { rows, width, reps, device } => {
            let lines = bench::kernels::run(rows, width, reps, froster_model::parse_device(&device)?)?;
            lines.iter().map(|l| l.to_string()).collect::<Vec<_>>().join("\n")
        }
        Cmd::TrainStep(a) => bench::step::train(a)?.to_string(),
        Cmd::EvalStep(a) => bench::eval_step::eval(a)?.to_string(),
        Cmd::Prompts { classes, out } => bench::step::prompts(&classes, &out)?,
    };
    println!("{}", json.trim_end());
    Ok(())
}
