//! The train loop: packs -> loader -> [`Learner::step`] -> checkpoints, with exact resume.
use crate::checkpoint::{self, Position};
use crate::config::Config;
use crate::distill::Objective;
use crate::error::{io_err, Error, Result};
use crate::input::Clips;
use crate::step::{step_template, Learner, LearnerSpec, LossParts};
use froster_loader::{clips_per_epoch, read_classes, ClipSource, Loader, LoaderConfig, Mode, PackReader, PackSource};
use froster_model::layout::{self, clip_only};
use froster_model::weights::{self, Weights};
use froster_model::ClipConfig;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tch::{nn, Device};

/// How to run (the config says what to train).
#[derive(Debug, Clone)]
pub struct Options {
    /// The pack folder.
    pub packs: PathBuf,
    /// The run folder: config.toml, train_log.jsonl, checkpoints/.
    pub out: PathBuf,
    /// Continue from the run folder's last resume point.
    pub resume: bool,
    /// Where to compute.
    pub device: Device,
    /// Show a progress bar.
    pub progress: bool,
    /// Stop after this many optimizer steps in all (tests, smoke runs, benchmarks); a resume point is saved.
    pub max_steps: Option<usize>,
    /// Write per-epoch checkpoints and periodic resume points (benchmarks turn them off).
    pub checkpoints: bool,
}

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
    /// Its learning rate.
    pub lr: f64,
    /// Its loss parts.
    pub parts: LossParts,
    /// Seconds spent waiting for the loader.
    pub wait: f64,
    /// Seconds of the whole step, waiting included.
    pub seconds: f64,
}

/// A training run.
pub struct Trainer {
    cfg: Config,
    opts: Options,
    learner: Learner,
    pos: Position,
    source: Arc<PackSource>,
}

impl Trainer {
    /// Opens the pack, checks the classes, writes config.toml, and builds the learner from MODEL.CLIP (or the
    /// run's resume point).
    pub fn new(cfg: Config, opts: Options) -> Result<Self> {
        let reader = Arc::new(PackReader::open(&opts.packs)?);
        let source = Arc::new(PackSource::new(reader, &cfg.train.list)?);
        if source.is_empty() {
            return Err(Error::EmptyList { pack: opts.packs.clone(), list: cfg.train.list.clone() });
        }
        let classes = training_classes(&cfg, &opts.packs, source.as_ref())?;
        let ckpt_dir = layout::checkpoints_dir(&opts.out);
        std::fs::create_dir_all(&ckpt_dir).map_err(io_err(&ckpt_dir))?;
        let config_file = opts.out.join("config.toml");
        std::fs::write(&config_file, cfg.to_toml()).map_err(io_err(&config_file))?;
        let resume = if opts.resume { checkpoint::load_resume(&opts.out)? } else { None };
        let (clip_cfg, clip_w) = teacher_weights(&cfg, &opts, resume.is_some())?;
        let mut learner = Learner::new(learner_spec(&cfg, &clip_cfg, &clip_w, classes, opts.device))?;
        let mut pos = Position::default();
        if let Some((latest, w)) = resume {
            learner.load_resume(&w, latest.adam_step)?;
            pos = latest.position;
        }
        Ok(Trainer { cfg, opts, learner, pos, source })
    }

    /// The loader of one epoch, starting after `skip` clips.
    fn loader_config(&self, epoch: usize, skip: usize) -> LoaderConfig {
        let d = &self.cfg.data;
        LoaderConfig {
            batch_size: self.cfg.train.batch_size / self.cfg.train.accum_steps,
            workers: self.cfg.data_loader.num_workers,
            seed: self.cfg.rng_seed,
            epoch: epoch as u64,
            mode: Mode::Train { min_scale: d.train_jitter_scales[0], max_scale: d.train_jitter_scales[1] },
            crop: d.train_crop_size,
            sampling: froster_loader::SamplingConfig {
                num_frames: d.num_frames,
                sampling_rate: d.sampling_rate,
                target_fps: d.target_fps,
                ..Default::default()
            },
            drop_last: true,
            skip,
            ..Default::default()
        }
    }

    /// Optimizer steps in one epoch.
    pub fn steps_per_epoch(&self) -> usize {
        clips_per_epoch(self.source.as_ref(), &self.loader_config(0, 0)) / self.cfg.train.batch_size
    }

    /// The model state as the reference's `model_state` keys.
    pub fn model_state(&self) -> Weights {
        self.learner.model_state()
    }

    /// Where the run stands.
    pub fn position(&self) -> Position {
        self.pos
    }

    fn save_resume(&self) -> Result<()> {
        checkpoint::save_resume(&self.opts.out, &self.learner.resume_state(), self.pos, self.learner.adam_steps())
    }

    /// Trains to SOLVER.MAX_EPOCH (or `max_steps`).
    pub fn run(&mut self) -> Result<Summary> {
        self.run_with(|_| {})
    }

    /// Trains as [`Trainer::run`], calling `on_step` after every optimizer step.
    pub fn run_with(&mut self, mut on_step: impl FnMut(&StepReport)) -> Result<Summary> {
        let t0 = Instant::now();
        let per_epoch = self.steps_per_epoch();
        if per_epoch == 0 {
            let (list, batch) = (self.cfg.train.list.clone(), self.cfg.train.batch_size);
            return Err(Error::TooFewClips { list, batch });
        }
        let bar = progress(self.opts.progress, (per_epoch * self.cfg.solver.max_epoch) as u64, self.pos.step as u64);
        let log_path = self.opts.out.join("train_log.jsonl");
        let mut log =
            std::fs::OpenOptions::new().create(true).append(true).open(&log_path).map_err(io_err(&log_path))?;
        let (mut first, mut last) = (f64::NAN, f64::NAN);
        let mut skipped = Vec::new();
        for epoch in self.pos.epoch..self.cfg.solver.max_epoch {
            let skip = self.pos.iter * self.cfg.train.batch_size;
            let mut loader = Loader::new(self.source.clone(), self.loader_config(epoch, skip))?;
            while self.pos.iter < per_epoch {
                let Some(r) = self.train_step(&mut loader, epoch, per_epoch)? else {
                    break; // bad clips skipped shortened the epoch
                };
                first = if first.is_nan() { r.parts.loss } else { first };
                last = r.parts.loss;
                writeln!(log, "{}", log_line(&r, self.cfg.train.batch_size)).map_err(io_err(&log_path))?;
                bar.set_position(self.pos.step as u64);
                bar.set_message(format!("epoch {epoch} loss {:.4} lr {:.2e}", r.parts.loss, r.lr));
                on_step(&r);
                if self.stop_now()? {
                    bar.finish_and_clear();
                    skipped.extend(loader.skip_reasons());
                    let seconds = t0.elapsed().as_secs_f64();
                    return Ok(Summary { steps: self.pos.step, first_loss: first, last_loss: last, seconds, skipped });
                }
            }
            skipped.extend(loader.skip_reasons());
            drop(loader);
            self.pos = Position { epoch: epoch + 1, iter: 0, step: self.pos.step };
            self.end_epoch(epoch)?;
        }
        bar.finish_and_clear();
        let seconds = t0.elapsed().as_secs_f64();
        Ok(Summary { steps: self.pos.step, first_loss: first, last_loss: last, seconds, skipped })
    }

    /// Takes one optimizer step's micro-batches from `loader` and steps; None when the epoch ran out early.
    fn train_step(&mut self, loader: &mut Loader, epoch: usize, per_epoch: usize) -> Result<Option<StepReport>> {
        let t0 = Instant::now();
        let micro_size = self.cfg.train.batch_size / self.cfg.train.accum_steps;
        let mut batches = Vec::with_capacity(self.cfg.train.accum_steps);
        for _ in 0..self.cfg.train.accum_steps {
            match loader.next() {
                Some(b) => batches.push(b?),
                None => break,
            }
        }
        if batches.len() < self.cfg.train.accum_steps || batches.iter().any(|b| b.labels.len() < micro_size) {
            return Ok(None);
        }
        let wait = t0.elapsed().as_secs_f64();
        let micro: Vec<Clips> = batches.iter().map(|b| Clips::from_batch(b, self.opts.device)).collect();
        for b in batches {
            loader.recycle(b);
        }
        let lr = self.cfg.schedule().at_iter(epoch, self.pos.iter, per_epoch);
        let template = step_template(self.cfg.rng_seed, epoch, self.pos.iter);
        let parts = self.learner.step(&micro, template, lr)?;
        if !parts.is_finite() {
            let checkpoints = layout::checkpoints_dir(&self.opts.out);
            let (step, iter) = (self.pos.step + 1, self.pos.iter);
            return Err(Error::NonFinite { loss: parts.loss, step, epoch, iter, checkpoints });
        }
        self.pos.iter += 1;
        self.pos.step += 1;
        Ok(Some(StepReport { position: self.pos, lr, parts, wait, seconds: t0.elapsed().as_secs_f64() }))
    }

    /// Periodic resume points; at `max_steps`, a final one and true.
    fn stop_now(&self) -> Result<bool> {
        let every = self.cfg.train.checkpoint_every_steps;
        if self.opts.max_steps.is_some_and(|m| self.pos.step >= m) {
            self.save_resume()?;
            return Ok(true);
        }
        if self.opts.checkpoints && every > 0 && self.pos.step % every == 0 {
            self.save_resume()?;
        }
        Ok(false)
    }

    fn end_epoch(&self, epoch: usize) -> Result<()> {
        if !self.opts.checkpoints {
            return Ok(());
        }
        let done = epoch + 1;
        if done % self.cfg.train.checkpoint_period.max(1) == 0 || done == self.cfg.solver.max_epoch {
            checkpoint::save_atomic(&layout::epoch_file(&self.opts.out, done), &self.model_state())?;
        }
        self.save_resume()
    }
}

/// A learner as the config says: frames, loss weights, AdamW, clipping, precision and seed.
pub fn learner_spec<'a>(
    cfg: &Config,
    clip: &'a ClipConfig,
    weights: &'a Weights,
    classes: Vec<String>,
    device: Device,
) -> LearnerSpec<'a> {
    LearnerSpec {
        clip,
        weights,
        frames: cfg.data.num_frames as i64,
        classes,
        objective: Objective { distillation_ratio: cfg.model.distillation_ratio, alpha: cfg.model.projector_alpha },
        weight_decay: cfg.solver.weight_decay,
        clip_grad_norm: cfg.solver.clip_grad_l2norm,
        compute: cfg.compute_kind(device),
        seed: cfg.rng_seed,
        device,
    }
}

/// The step's line in train_log.jsonl.
fn log_line(r: &StepReport, batch: usize) -> serde_json::Value {
    let p = &r.parts;
    serde_json::json!({
        "step": r.position.step, "epoch": r.position.epoch, "iter": r.position.iter, "lr": r.lr,
        "loss": p.loss, "loss_ce": p.ce, "distill_image": p.distill_image, "distill_text": p.distill_text,
        "clips_per_s": batch as f64 / r.seconds, "data_wait": r.wait / r.seconds,
        // tch exposes no CUDA allocator counters; null rather than a made-up number.
        "gpu_mem_gb": serde_json::Value::Null,
    })
}

/// The training classes (DATA.CLASSES), each pack label checked against them.
fn training_classes(cfg: &Config, packs: &Path, source: &dyn ClipSource) -> Result<Vec<String>> {
    if cfg.data.classes.is_empty() {
        return Err(Error::NoClasses { pack: packs.into() });
    }
    let classes = read_classes(Path::new(&cfg.data.classes))?;
    let bad = (0..source.len()).map(|i| (i, source.label(i))).find(|(_, l)| *l < 0 || *l as usize >= classes.len());
    if let Some((i, label)) = bad {
        let video = source.id(i).to_string();
        return Err(Error::LabelOutOfRange { pack: packs.into(), video, label, classes: classes.len() });
    }
    Ok(classes)
}

/// The teacher CLIP: the run's saved copy when resuming, else MODEL.CLIP (saved into the run for averaging and
/// patching).
fn teacher_weights(cfg: &Config, opts: &Options, resuming: bool) -> Result<(ClipConfig, Weights)> {
    let path = layout::teacher_file(&opts.out);
    if resuming && path.exists() {
        let w = weights::load(&path)?;
        return Ok((ClipConfig::from_weights(&w)?, w));
    }
    let (cc, w) = initial_clip(cfg, opts.device)?;
    checkpoint::save_atomic(&path, &w)?;
    Ok((cc, w))
}

/// The student's initial CLIP weights and config: from MODEL.CLIP, or a seeded random init of MODEL.ARCH.
pub fn initial_clip(cfg: &Config, device: Device) -> Result<(ClipConfig, Weights)> {
    if cfg.model.clip.is_empty() {
        let cc = ClipConfig::preset(&cfg.model.arch)?;
        tch::manual_seed(cfg.rng_seed as i64);
        let vs = nn::VarStore::new(device);
        let _ = froster_model::Clip::new(&vs.root(), &cc);
        return Ok((cc, weights::snapshot(&vs)));
    }
    let w = clip_only(&weights::load(Path::new(&cfg.model.clip))?);
    Ok((ClipConfig::from_weights(&w)?, w))
}

/// The step progress bar (hidden when not wanted).
fn progress(show: bool, total: u64, pos: u64) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    let style = indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}  ETA {eta}");
    bar.set_style(style.unwrap_or(indicatif::ProgressStyle::default_bar()));
    bar.set_position(pos);
    bar
}
