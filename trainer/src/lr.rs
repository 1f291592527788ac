//! Cosine LR with linear warmup, as the reference's `get_lr_at_epoch` (set before every iteration from the
//! fractional epoch `cur_epoch + cur_iter / iters_per_epoch`).
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LrSchedule {
    pub base_lr: f64,
    pub warmup_start_lr: f64,
    pub cosine_end_lr: f64,
    pub warmup_epochs: f64,
    pub max_epoch: f64,
    pub cosine_after_warmup: bool,
}

impl LrSchedule {
    fn cosine(&self, e: f64) -> f64 {
        let off = if self.cosine_after_warmup { self.warmup_epochs } else { 0.0 };
        self.cosine_end_lr
            + (self.base_lr - self.cosine_end_lr)
                * ((std::f64::consts::PI * (e - off) / (self.max_epoch - off)).cos() + 1.0)
                * 0.5
    }

    pub fn at(&self, epoch: f64) -> f64 {
        if epoch < self.warmup_epochs {
            let end = self.cosine(self.warmup_epochs);
            let alpha = (end - self.warmup_start_lr) / self.warmup_epochs;
            epoch * alpha + self.warmup_start_lr
        } else {
            self.cosine(epoch)
        }
    }

    /// The LR of iteration `iter` of epoch `epoch`.
    pub fn at_iter(&self, epoch: usize, iter: usize, iters_per_epoch: usize) -> f64 {
        self.at(epoch as f64 + iter as f64 / iters_per_epoch.max(1) as f64)
    }
}
