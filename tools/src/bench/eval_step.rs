//! `froster-bench eval-step`: the evaluation step ([`eval_step`] with the classifier cached), timed on
//! synthetic clips kept on the device (as the PyTorch peer's) or on a pack's test views (data-wait included).
use super::step::{bench_classes, bench_ops, report, reset_peak, synthetic_batch, StepArgs, Timing};
use crate::error::Result;
use froster_loader::{Loader, PackReader, PackSource};
use froster_model::Tokenizer;
use froster_train::config::Config;
use froster_train::eval::{eval_classifier, eval_step};
use froster_train::feed::Feed;
use froster_train::input::Clips;
use froster_train::prepare::{initial_clip, learner_spec};
use froster_train::step::Learner;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Times evaluation steps (classifier cached): the numbers as JSON.
pub fn eval(a: StepArgs) -> Result<serde_json::Value> {
    let cfg = a.config()?;
    let device = froster_model::parse_device(&a.device)?;
    reset_peak(device);
    let (clip_cfg, w) = initial_clip(&cfg, device)?;
    let mut learner =
        Learner::new(learner_spec(&cfg, &clip_cfg, &w, bench_classes(a.class_file.as_deref(), a.classes)?, device))?;
    learner.set_ops(bench_ops(&a, device));
    learner.set_pooled_last_block(a.pooled_last_block.unwrap_or(true));
    let clip = &learner.student().clip;
    let (_, cls) =
        eval_classifier(clip, &Tokenizer::new(), &bench_classes(a.class_file.as_deref(), a.classes)?, device)?;
    let frames = cfg.data.num_frames as i64;
    let batch = cfg.train.batch_size;
    let mut feed = match &a.packs {
        Some(p) => Some(Feed::new(eval_loader(p, &cfg, batch)?, device, a.prefetch(device), 1)?),
        None => None,
    };
    // Synthetic clips stay on the device, as in train-step and the peer; pack batches go over the bus each step.
    let fixed = Clips::from_batch(&synthetic_batch(&cfg, cfg.data.test_crop_size, batch), device);
    let (mut timed, mut wait) = (0.0, 0.0);
    for i in 0..a.warmup + a.steps {
        let t0 = Instant::now();
        let logits = match feed.as_mut() {
            Some(f) => {
                let stopped = || froster_loader::Error::Stopped("the pack ran out of views".into());
                let fed = f.next().ok_or_else(stopped)??;
                wait += if i >= a.warmup { t0.elapsed().as_secs_f64() } else { 0.0 };
                eval_step(clip, frames, &fed.clips, &cls)
            }
            None => eval_step(clip, frames, &fixed, &cls),
        };
        let _ = logits.double_value(&[0, 0]);
        if i >= a.warmup {
            timed += t0.elapsed().as_secs_f64();
        }
    }
    let trace = match a.trace && feed.is_none() {
        true => Some(super::trace::traced(device, a.steps, |_| {
            eval_step(clip, frames, &fixed, &cls).double_value(&[0, 0]);
            Ok(())
        })),
        false => None,
    };
    let t = Timing { secs: timed, wait, losses: None, dist: None, phases: None, graph: None, trace };
    report(&a, &cfg, device, "eval-step", &t)
}

/// Test views of the pack's first list, repeated as often as the benchmark needs.
fn eval_loader(packs: &Path, cfg: &Config, batch: usize) -> Result<Loader> {
    let reader = Arc::new(PackReader::open(packs)?);
    let list = reader.manifest().lists.keys().next().cloned().unwrap_or_default();
    let n = reader.list(&list)?.len();
    let items: Vec<(u32, i64)> = reader.list(&list)?.iter().cycle().take(n.max(1) * 64).map(|&(v, _)| (v, 0)).collect();
    let src = Arc::new(PackSource::with_items(reader, items));
    let settings = crate::run::TestFlags::default().resolve(Some(cfg))?;
    let lc = crate::evaluate::test_loader(&settings, cfg.data.test_crop_size, batch, super::cores());
    Ok(Loader::new(src, lc)?)
}
