//! What a run writes as it goes: `train_log.jsonl` (a line per step and per validation, with wall-clock time),
//! `train.log` (the same in words, timestamped), and TensorBoard event files under `tb/`.
use crate::error::{io_err, Result};
use crate::tensorboard::EventWriter;
use crate::train::StepReport;
use crate::validate::Validation;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The run's log files.
pub struct RunLog {
    jsonl: (PathBuf, File),
    text: (PathBuf, File),
    tb: EventWriter,
}

fn append(path: PathBuf) -> Result<(PathBuf, File)> {
    let f = OpenOptions::new().create(true).append(true).open(&path).map_err(io_err(&path))?;
    Ok((path, f))
}

impl RunLog {
    /// Opens (appends to) the run's logs in `out`.
    pub fn open(out: &Path) -> Result<Self> {
        Ok(RunLog {
            jsonl: append(out.join("train_log.jsonl"))?,
            text: append(out.join("train.log"))?,
            tb: EventWriter::create(&out.join("tb"))?,
        })
    }

    /// A line of words in train.log.
    pub fn say(&mut self, line: &str) -> Result<()> {
        let (path, f) = &mut self.text;
        writeln!(f, "{} {line}", utc_now()).map_err(io_err(path))
    }

    /// One optimizer step in all three logs.
    pub fn step(&mut self, r: &StepReport, batch: usize) -> Result<()> {
        let p = &r.parts;
        let line = serde_json::json!({
            "time": unix_now(), "step": r.position.step, "epoch": r.position.epoch, "iter": r.position.iter,
            "lr": r.lr, "loss": p.loss, "loss_ce": p.ce, "distill_image": p.distill_image,
            "distill_text": p.distill_text, "clips_per_s": batch as f64 / r.seconds, "data_wait": r.wait / r.seconds,
            // tch exposes no CUDA allocator counters; null rather than a made-up number.
            "gpu_mem_gb": serde_json::Value::Null,
        });
        let (path, f) = &mut self.jsonl;
        writeln!(f, "{line}").map_err(io_err(path))?;
        self.say(&r.line(batch))?;
        let scalars = [
            ("train/loss", p.loss),
            ("train/loss_ce", p.ce),
            ("train/distill_image", p.distill_image),
            ("train/distill_text", p.distill_text),
            ("train/lr", r.lr),
            ("train/clips_per_s", batch as f64 / r.seconds),
            ("train/data_wait", r.wait / r.seconds),
        ];
        self.tb.scalars(r.position.step as i64, &scalars)
    }

    /// One validation in all three logs.
    pub fn validation(&mut self, v: &Validation, step: usize, epoch: usize) -> Result<()> {
        let line = serde_json::json!({"time": unix_now(), "step": step, "epoch": epoch, "eval": v});
        let (path, f) = &mut self.jsonl;
        writeln!(f, "{line}").map_err(io_err(path))?;
        self.say(&v.line(epoch))?;
        self.tb.scalars(step as i64, &[("val/top1", v.top1), ("val/top5", v.top5)])
    }
}

/// Seconds since 1970, UTC.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_now() -> String {
    let secs = unix_now() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}
