//! What a run reports: each optimizer step ([`StepReport`], in words with [`StepReport::line`]), the events a
//! caller of [`crate::train::Trainer::run_with`] sees, and the finished run's [`Summary`].
use crate::checkpoint::Position;
use crate::step::LossParts;
use crate::validate::Validation;

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Optimizer steps done in all.
    pub steps: usize,
    /// The first step's loss in this process.
    pub first_loss: f64,
    /// The last step's loss.
    pub last_loss: f64,
    /// Wall time of this process's run.
    pub seconds: f64,
    /// Clips the loader skipped as unreadable, with the reason.
    pub skipped: Vec<String>,
}

/// One optimizer step as it happened.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// Where the run stands after it.
    pub position: Position,
    /// Steps of the whole run.
    pub total_steps: usize,
    /// Its learning rate.
    pub lr: f64,
    /// Its loss parts.
    pub parts: LossParts,
    /// Seconds spent waiting for the loader.
    pub wait: f64,
    /// Seconds of the whole step, waiting included.
    pub seconds: f64,
    /// Seconds this process has trained so far.
    pub elapsed: f64,
    /// Steps this process has taken so far.
    pub steps_here: usize,
}

impl StepReport {
    /// The step in words: position, loss parts, LR, speed, data-wait and ETA.
    pub fn line(&self, batch: usize) -> String {
        let p = &self.parts;
        let left = self.total_steps.saturating_sub(self.position.step) as f64;
        let eta = (left * self.elapsed / self.steps_here.max(1) as f64) as u64;
        format!(
            "step {}/{} epoch {} loss {:.4} (ce {:.4} distill image {:.4} text {:.4}) lr {:.3e} {:.1} clips/s \
             data-wait {:.0}% ETA {}:{:02}:{:02}",
            self.position.step,
            self.total_steps,
            self.position.epoch + 1,
            p.loss,
            p.ce,
            p.distill_image,
            p.distill_text,
            self.lr,
            batch as f64 / self.seconds,
            100.0 * self.wait / self.seconds,
            eta / 3600,
            eta / 60 % 60,
            eta % 60
        )
    }
}

/// What the run reports as it goes.
pub enum Event<'a> {
    /// An optimizer step.
    Step(&'a StepReport),
    /// A validation after an epoch (its index).
    Validated(&'a Validation, usize),
}
