//! The train loop: packs -> loader -> [`Learner::step`] -> checkpoints, with exact resume, periodic validation
//! and logs (JSONL, words, TensorBoard).
use crate::checkpoint::{self, Position};
use crate::config::Config;
use crate::dist::World;
use crate::error::{Error, Result};
use crate::feed::Feed;
use crate::input::Clips;
use crate::log::RunLog;
use crate::prepare::{learner_spec, per_rank_batch, prepare_folder, teacher_weights, training_classes};
pub use crate::report::{Event, StepReport, Summary};
use crate::run_dir::{self, Start};
use crate::step::{step_template, Learner};
use crate::validate::{validate, Validation};
use froster_loader::{clips_per_epoch, ClipSource, ListCounts, Loader, LoaderConfig, Mode, PackReader, PackSource};
use froster_model::layout;
use froster_model::weights::Weights;
use froster_model::ClipConfig;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tch::Device;

/// How to run (the config says what to train).
#[derive(Debug, Clone)]
pub struct Options {
    /// The pack folder.
    pub packs: PathBuf,
    /// The run folder: config.toml, train_log.jsonl, train.log, tb/, checkpoints/.
    pub out: PathBuf,
    /// Fresh, overwrite, or resume.
    pub start: Start,
    /// Refuse to train when listed videos are missing from the pack.
    pub strict: bool,
    /// Where to compute.
    pub device: Device,
    /// Show a progress bar.
    pub progress: bool,
    /// Stop after this many optimizer steps in all (tests, smoke runs, benchmarks); a resume point is saved.
    pub max_steps: Option<usize>,
    /// Write per-epoch checkpoints and periodic resume points (benchmarks turn them off).
    pub checkpoints: bool,
    /// The ranks of a data-parallel run ([`World::single`] for one process). Only rank 0 writes the run folder.
    pub world: Arc<World>,
    /// Replay each step's forward and backward from a recorded CUDA graph (on CUDA; no effect elsewhere).
    pub cuda_graph: bool,
    /// Move the next step's batches to the device while the current step runs ([`crate::feed`]; the same
    /// batches in the same order).
    pub prefetch: bool,
}

/// What [`Trainer::check_and_prepare`] found.
struct Checked {
    source: Arc<PackSource>,
    val_source: Option<Arc<PackSource>>,
    counts: ListCounts,
    classes: Vec<String>,
    resumed: Option<run_dir::Resumed>,
}

/// A training run.
pub struct Trainer {
    cfg: Config,
    opts: Options,
    learner: Learner,
    pos: Position,
    source: Arc<PackSource>,
    val_source: Option<Arc<PackSource>>,
    counts: ListCounts,
    notes: Vec<String>,
    last_save: Instant,
}

impl Trainer {
    /// Checks everything that can be checked first (pack, lists, classes, batch against the list, the run
    /// folder, a resume's config), then loads the weights, prepares the folder and writes config.toml.
    pub fn new(cfg: Config, opts: Options) -> Result<Self> {
        let world = opts.world.clone();
        let (checked, (clip_cfg, clip_w)) = world.agree(Self::check_and_prepare(&cfg, &opts))?;
        let Checked { source, val_source, counts, classes, resumed } = checked;
        let mut learner = Learner::new(learner_spec(&cfg, &clip_cfg, &clip_w, classes, opts.device))?;
        let (mut pos, mut notes) = (Position::default(), Vec::new());
        if let Some(r) = resumed {
            learner.load_resume(&r.state, r.latest.adam_step)?;
            pos = r.latest.position;
            if world.is_main() {
                run_dir::cut_log(&opts.out.join("train_log.jsonl"), pos.step)?;
            }
            notes.extend(r.changes.into_iter().map(|c| format!("resumed with a changed config: {c}")));
        }
        learner.join(world)?;
        if !opts.cuda_graph {
            learner.set_step_graph(crate::graph::StepGraph::Off);
        }
        let last_save = Instant::now();
        Ok(Trainer { cfg, opts, learner, pos, source, val_source, counts, notes, last_save })
    }

    /// Everything that can be checked first (pack, lists, classes, batch against the list and the world, the run
    /// folder, a resume's config), then the weights; rank 0 prepares the folder and writes config.toml.
    fn check_and_prepare(cfg: &Config, opts: &Options) -> Result<(Checked, (ClipConfig, Weights))> {
        let world = &opts.world;
        let reader = Arc::new(PackReader::open(&opts.packs)?);
        let source = Arc::new(PackSource::new(reader.clone(), &cfg.train.list)?);
        if source.is_empty() {
            return Err(Error::EmptyList { pack: opts.packs.clone(), list: cfg.train.list.clone() });
        }
        let counts = reader.list_counts(&cfg.train.list)?;
        if opts.strict && !counts.missing.is_empty() {
            return Err(Error::Missing { list: cfg.train.list.clone(), counts });
        }
        let classes = training_classes(cfg, &opts.packs, source.as_ref())?;
        let val_source = match cfg.train.eval_period {
            0 => None,
            _ => Some(Arc::new(PackSource::new(reader, &cfg.train.eval_list)?)),
        };
        per_rank_batch(cfg, world.size)?;
        if clips_per_epoch(source.as_ref(), &loader_config(cfg, world, 0, 0)) < per_rank_batch(cfg, world.size)? {
            return Err(Error::TooFewClips { list: cfg.train.list.clone(), batch: cfg.train.batch_size });
        }
        // Rank 0 judges the folder; the others only read a resume point from it.
        let resumed = match (world.is_main(), opts.start) {
            (true, _) | (false, Start::Resume { .. }) => run_dir::check(&opts.out, opts.start, cfg)?,
            _ => None,
        };
        let (clip_cfg, clip_w) = teacher_weights(cfg, opts, resumed.is_some())?;
        if world.is_main() {
            prepare_folder(cfg, opts, &counts, &clip_w, resumed.is_none())?;
        }
        Ok((Checked { source, val_source, counts, classes, resumed }, (clip_cfg, clip_w)))
    }

    /// What the run's list gave: listed, packed, missing.
    pub fn counts(&self) -> &ListCounts {
        &self.counts
    }

    /// Things worth telling the user before the run starts (accepted config changes of a resume).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Optimizer steps in one epoch.
    pub fn steps_per_epoch(&self) -> usize {
        let per_rank = self.cfg.train.batch_size / self.opts.world.size;
        clips_per_epoch(self.source.as_ref(), &loader_config(&self.cfg, &self.opts.world, 0, 0)) / per_rank
    }

    /// The model state as the reference's `model_state` keys.
    pub fn model_state(&self) -> Weights {
        self.learner.model_state()
    }

    /// Where the run stands.
    pub fn position(&self) -> Position {
        self.pos
    }

    fn save_resume(&mut self) -> Result<()> {
        self.last_save = Instant::now();
        if !self.opts.world.is_main() {
            return Ok(());
        }
        checkpoint::save_resume(&self.opts.out, &self.learner.resume_state(), self.pos, self.learner.adam_steps())
    }

    /// Trains to SOLVER.MAX_EPOCH (or `max_steps`).
    pub fn run(&mut self) -> Result<Summary> {
        self.run_with(|_| {})
    }

    /// Trains as [`Trainer::run`], calling `on_event` after every optimizer step and validation.
    pub fn run_with(&mut self, mut on_event: impl FnMut(Event)) -> Result<Summary> {
        let t0 = Instant::now();
        let per_epoch = self.steps_per_epoch();
        let total = per_epoch * self.cfg.solver.max_epoch;
        let main = self.opts.world.is_main();
        let bar = progress(self.opts.progress && main, total as u64, self.pos.step as u64);
        let mut log = if main { Some(RunLog::open(&self.opts.out)?) } else { None };
        let ranks = match self.opts.world.size {
            1 => String::new(),
            n => format!(" on {n} ranks"),
        };
        if let Some(log) = log.as_mut() {
            log.say(&format!(
                "training on list '{}': {}; {} steps from step {}{ranks}",
                self.cfg.train.list, self.counts, total, self.pos.step
            ))?;
        }
        let (mut first, mut last, mut here) = (f64::NAN, f64::NAN, 0);
        let mut skipped = Vec::new();
        for epoch in self.pos.epoch..self.cfg.solver.max_epoch {
            let skip = self.pos.iter * (self.cfg.train.batch_size / self.opts.world.size);
            let cfg = loader_config(&self.cfg, &self.opts.world, epoch, skip);
            let ahead = self.cfg.train.accum_steps;
            let mut feed =
                Feed::new(Loader::new(self.source.clone(), cfg)?, self.opts.device, self.opts.prefetch, ahead)?;
            while self.pos.iter < per_epoch {
                let Some(mut r) = self.train_step(&mut feed, epoch, per_epoch)? else {
                    break; // bad clips skipped shortened the epoch
                };
                here += 1;
                (r.total_steps, r.elapsed, r.steps_here) = (total, t0.elapsed().as_secs_f64(), here);
                first = if first.is_nan() { r.parts.loss } else { first };
                last = r.parts.loss;
                if let Some(log) = log.as_mut() {
                    if here == 1 {
                        // Recorded at this first step, or why not (the run goes on eagerly).
                        log.say(&format!("steps run: {}", self.learner.step_graph_status()))?;
                    }
                    log.step(&r, self.cfg.train.batch_size)?;
                }
                bar.set_position(self.pos.step as u64);
                bar.set_message(format!("epoch {epoch} loss {:.4} lr {:.2e}", r.parts.loss, r.lr));
                on_event(Event::Step(&r));
                if self.stop_now()? {
                    bar.finish_and_clear();
                    skipped.extend(feed.finish());
                    let seconds = t0.elapsed().as_secs_f64();
                    return Ok(Summary { steps: self.pos.step, first_loss: first, last_loss: last, seconds, skipped });
                }
            }
            skipped.extend(feed.finish());
            self.pos = Position { epoch: epoch + 1, iter: 0, step: self.pos.step };
            self.end_epoch(epoch)?;
            if let Some(v) = self.validate_after(epoch)? {
                if let Some(log) = log.as_mut() {
                    log.validation(&v, self.pos.step, epoch)?;
                }
                on_event(Event::Validated(&v, epoch));
            }
        }
        bar.finish_and_clear();
        let seconds = t0.elapsed().as_secs_f64();
        Ok(Summary { steps: self.pos.step, first_loss: first, last_loss: last, seconds, skipped })
    }

    /// Takes one optimizer step's micro-batches from `loader` and steps; None when the epoch ran out early.
    fn train_step(&mut self, feed: &mut Feed, epoch: usize, per_epoch: usize) -> Result<Option<StepReport>> {
        let t0 = Instant::now();
        let micro_size = self.cfg.train.batch_size / self.opts.world.size / self.cfg.train.accum_steps;
        let mut micro: Vec<Clips> = Vec::with_capacity(self.cfg.train.accum_steps);
        let mut short = false;
        for _ in 0..self.cfg.train.accum_steps {
            match feed.next() {
                Some(f) => {
                    let f = f?;
                    short |= f.labels.len() < micro_size;
                    micro.push(f.clips);
                }
                None => break,
            }
        }
        let short = short || micro.len() < self.cfg.train.accum_steps;
        // Ranks step together: when skipped clips end one rank's epoch early, all end it.
        if self.opts.world.any(short)? {
            return Ok(None);
        }
        // Waiting for data: for the loader, and (without prefetch) for the copy to the device.
        let wait = t0.elapsed().as_secs_f64();
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
        let seconds = t0.elapsed().as_secs_f64();
        Ok(Some(StepReport {
            position: self.pos,
            total_steps: 0,
            lr,
            parts,
            wait,
            seconds,
            elapsed: 0.0,
            steps_here: 0,
        }))
    }

    /// Resume points every CHECKPOINT_EVERY_STEPS steps and CHECKPOINT_MINUTES minutes; at `max_steps`, a
    /// final one and true.
    fn stop_now(&mut self) -> Result<bool> {
        if self.opts.max_steps.is_some_and(|m| self.pos.step >= m) {
            self.save_resume()?;
            return Ok(true);
        }
        let every = self.cfg.train.checkpoint_every_steps;
        let minutes = self.cfg.train.checkpoint_minutes;
        let by_steps = every > 0 && self.pos.step % every == 0;
        let by_clock = minutes > 0.0 && self.last_save.elapsed().as_secs_f64() >= minutes * 60.0;
        if self.opts.checkpoints && (by_steps || by_clock) {
            self.save_resume()?;
        }
        Ok(false)
    }

    fn end_epoch(&mut self, epoch: usize) -> Result<()> {
        if !self.opts.checkpoints || !self.opts.world.is_main() {
            return Ok(());
        }
        let done = epoch + 1;
        if done % self.cfg.train.checkpoint_period.max(1) == 0 || done == self.cfg.solver.max_epoch {
            checkpoint::save_atomic(&layout::epoch_file(&self.opts.out, done), &self.model_state())?;
        }
        self.save_resume()
    }

    /// TRAIN.EVAL_PERIOD: the student on TRAIN.EVAL_LIST after every so many epochs, and after the last.
    fn validate_after(&self, epoch: usize) -> Result<Option<Validation>> {
        let (period, done) = (self.cfg.train.eval_period, epoch + 1);
        let Some(src) = self.val_source.clone().filter(|_| period > 0) else { return Ok(None) };
        if done % period != 0 && done != self.cfg.solver.max_epoch {
            return Ok(None);
        }
        let clip = &self.learner.student().clip;
        let (classes, list) = (self.learner.classes(), &self.cfg.train.eval_list);
        Ok(Some(validate(clip, classes, src, list, &self.cfg, &self.opts.world, self.opts.prefetch)?))
    }
}

/// The loader of one training epoch for this rank, starting after its first `skip` clips.
fn loader_config(cfg: &Config, world: &World, epoch: usize, skip: usize) -> LoaderConfig {
    let d = &cfg.data;
    LoaderConfig {
        batch_size: cfg.train.batch_size / world.size / cfg.train.accum_steps,
        shard: world.shard(),
        workers: cfg.data_loader.num_workers,
        seed: cfg.rng_seed,
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
