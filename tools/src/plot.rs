//! `froster-tools plot RUN`: a run's loss parts, learning rate and validation top-1 over its steps, as PNG.
use crate::chart::{curves, Curve, COLOURS};
use crate::error::{io_err, Error, Result};
use std::path::Path;

/// Reads `<run>/train_log.jsonl` and draws `out`; returns how many steps were drawn.
pub fn plot_run(run: &Path, out: &Path) -> Result<usize> {
    let log = run.join("train_log.jsonl");
    let text = std::fs::read_to_string(&log).map_err(io_err(&log))?;
    let lines: Vec<serde_json::Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let series = |key: &str| -> Vec<(f64, f64)> {
        lines.iter().filter_map(|j| Some((j["step"].as_f64()?, j[key].as_f64()?))).collect()
    };
    let steps = series("loss").len();
    if steps == 0 {
        return Err(Error::Argument(format!("{}: no training steps logged", log.display())));
    }
    let curve = |name: &str, key: &str, i: usize| -> Curve { (name.to_string(), series(key), COLOURS[i]) };
    let loss = vec![
        curve("loss", "loss", 0),
        curve("cross-entropy", "loss_ce", 1),
        curve("distill image", "distill_image", 2),
        curve("distill text", "distill_text", 3),
    ];
    let mut panels = vec![("loss and its parts", loss), ("learning rate", vec![curve("lr", "lr", 0)])];
    let val: Vec<(f64, f64)> =
        lines.iter().filter_map(|j| Some((j["step"].as_f64()?, j["eval"]["top1"].as_f64()?))).collect();
    if !val.is_empty() {
        panels.push(("validation top-1 (%)", vec![("top-1".into(), val, COLOURS[2])]));
    }
    let title = format!("{}: {steps} steps", run.display());
    curves(out, &title, &panels)?;
    Ok(steps)
}
