//! froster-train: FROSTER's objective, AdamW, the LR schedule, the train loop with exact resume, and evaluation.
pub mod adamw;
pub mod average;
pub mod build;
pub mod checkpoint;
pub mod config;
pub mod distill;
pub mod eval;
pub mod lr;
pub mod train;

/// A progress bar (hidden when not wanted).
pub fn progress(show: bool, total: u64, pos: u64) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    let style = indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}  ETA {eta}");
    bar.set_style(style.unwrap_or(indicatif::ProgressStyle::default_bar()));
    bar.set_position(pos);
    bar
}

/// `cpu`, `cuda` or `auto` (CUDA when available).
pub fn parse_device(d: &str) -> anyhow::Result<tch::Device> {
    Ok(match d {
        "cpu" => tch::Device::Cpu,
        "cuda" => tch::Device::Cuda(0),
        "auto" => tch::Device::cuda_if_available(),
        _ => anyhow::bail!("--device '{d}': expected cpu, cuda or auto"),
    })
}
