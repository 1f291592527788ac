//! The train loop: packs -> loader -> student/teacher forward -> AdamW, with checkpoints and exact resume.
use crate::adamw::AdamW;
use crate::checkpoint::{self, Position};
use crate::config::{read_classes, Config};
use crate::distill;
use anyhow::{bail, Context, Result};
use froster_loader::format::CLASSES_FILE;
use froster_loader::pipeline::{clips_per_epoch, CLIP_MEAN, CLIP_STD};
use froster_loader::rng::Rng;
use froster_loader::{Batch, ClipSource, Loader, LoaderConfig, Mode, PackReader, PackSource, SamplingConfig};
use froster_model::froster::{classifier, prompt_ids, Student, Teacher, BARE};
use froster_model::weights::{self, Weights};
use froster_model::{ClipConfig, Tokenizer};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tch::{nn, Device, Kind, Tensor};

pub struct Options {
    pub packs: PathBuf,
    pub out: PathBuf,
    pub resume: bool,
    pub device: Device,
    pub progress: bool,
    /// Stop after this many optimizer steps in all (tests, smoke runs).
    pub max_steps: Option<usize>,
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct Summary {
    pub steps: usize,
    pub first_loss: f64,
    pub last_loss: f64,
    pub seconds: f64,
}

/// uint8 clips (B, T, H, W, C) -> normalised f32 (B, 3, T, H, W) on `device`.
pub fn clips_to_tensor(b: &Batch, device: Device) -> Tensor {
    let [n, t, h, w, c] = b.shape;
    let x = Tensor::from_slice(&b.u8).view([n as i64, t as i64, h as i64, w as i64, c as i64]).to_device(device);
    let mean = Tensor::from_slice(&CLIP_MEAN).to_device(device);
    let std = Tensor::from_slice(&CLIP_STD).to_device(device);
    ((x.to_kind(Kind::Float) / 255.0 - mean) / std).permute([0, 4, 1, 2, 3]).contiguous()
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
    let w = weights::student_view(&weights::load(Path::new(&cfg.model.clip))?);
    let w: Weights = w.into_iter().filter(|(k, _)| !k.starts_with("projector_")).collect();
    Ok((ClipConfig::from_weights(&w)?, w))
}

pub struct Trainer {
    pub cfg: Config,
    pub opts: Options,
    pub vs: nn::VarStore,
    pub student: Student,
    pub teacher: Teacher,
    pub opt: AdamW,
    pub pos: Position,
    classes: Vec<String>,
    tok: Tokenizer,
    source: Arc<PackSource>,
}

impl Trainer {
    pub fn new(cfg: Config, opts: Options) -> Result<Self> {
        let reader = Arc::new(PackReader::open(&opts.packs)?);
        let source = Arc::new(PackSource::new(reader, &cfg.train.list)?);
        if source.is_empty() {
            bail!("{}: list '{}' is empty", opts.packs.display(), cfg.train.list);
        }
        if cfg.data.classes.is_empty() {
            bail!(
                "DATA.CLASSES is not set and {} has no {CLASSES_FILE}: give the training classes' rephrased JSON, \
                 e.g. --set DATA.CLASSES=train_rephrased.json",
                opts.packs.display()
            );
        }
        let classes = read_classes(Path::new(&cfg.data.classes)).map_err(anyhow::Error::msg).context("DATA.CLASSES")?;
        if let Some((i, label)) =
            (0..source.len()).map(|i| (i, source.label(i))).find(|(_, l)| *l < 0 || *l as usize >= classes.len())
        {
            bail!(
                "{}: video '{}' has label {label}, but DATA.CLASSES has {} classes",
                opts.packs.display(),
                source.id(i),
                classes.len()
            );
        }
        std::fs::create_dir_all(checkpoint::dir(&opts.out))?;
        std::fs::write(opts.out.join("config.toml"), cfg.to_toml())?;
        let resume = if opts.resume { checkpoint::load_resume(&opts.out)? } else { None };
        let teacher_path = checkpoint::teacher_file(&opts.out);
        let (clip_cfg, clip_w) = if resume.is_some() && teacher_path.exists() {
            let w = weights::load(&teacher_path)?;
            (ClipConfig::from_weights(&w)?, w)
        } else {
            initial_clip(&cfg, opts.device)?
        };
        if !teacher_path.exists() || resume.is_none() {
            checkpoint::save_atomic(&teacher_path, &clip_w)?;
        }
        tch::manual_seed(cfg.rng_seed as i64 + 1);
        let (vs, mut student) =
            crate::build::student(&clip_cfg, cfg.data.num_frames as i64, &clip_w, None, opts.device)?;
        let mut teacher = crate::build::teacher(&clip_cfg, &clip_w, opts.device)?;
        let compute = cfg.compute_kind(opts.device);
        student.clip.set_compute(compute);
        teacher.clip.set_compute(compute);
        let params: Vec<(String, Tensor)> = {
            let mut v: Vec<_> = vs.variables().into_iter().collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        let mut opt = AdamW::new(params, cfg.solver.weight_decay);
        let mut pos = Position::default();
        if let Some((latest, w)) = resume {
            weights::apply(&vs, &w, "")?;
            let opt_state: Weights = w
                .iter()
                .filter_map(|(k, v)| k.strip_prefix("optim.").map(|s| (s.to_string(), v.shallow_clone())))
                .collect();
            opt.load_state(&opt_state, latest.adam_step).map_err(anyhow::Error::msg)?;
            pos = latest.position;
        }
        Ok(Trainer { cfg, opts, vs, student, teacher, opt, pos, classes, tok: Tokenizer::new(), source })
    }

    fn loader_config(&self, epoch: usize, skip: usize) -> LoaderConfig {
        let d = &self.cfg.data;
        LoaderConfig {
            batch_size: self.cfg.train.batch_size / self.cfg.train.accum_steps,
            workers: self.cfg.data_loader.num_workers,
            seed: self.cfg.rng_seed,
            epoch: epoch as u64,
            mode: Mode::Train { min_scale: d.train_jitter_scales[0], max_scale: d.train_jitter_scales[1] },
            crop: d.train_crop_size,
            sampling: SamplingConfig {
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

    pub fn steps_per_epoch(&self) -> usize {
        clips_per_epoch(self.source.as_ref(), &self.loader_config(0, 0)) / self.cfg.train.batch_size
    }

    /// The model state as the reference's `model_state` keys.
    pub fn model_state(&self) -> Weights {
        weights::snapshot(&self.vs)
    }

    fn save_resume(&self) -> Result<()> {
        let mut state = self.model_state();
        for (k, v) in self.opt.state() {
            state.insert(format!("optim.{k}"), v.detach().to_device(Device::Cpu));
        }
        checkpoint::save_resume(&self.opts.out, &state, self.pos, self.opt.step)
    }

    pub fn run(&mut self) -> Result<Summary> {
        let t0 = Instant::now();
        let per_epoch = self.steps_per_epoch();
        if per_epoch == 0 {
            bail!("list '{}' has fewer clips than one batch ({})", self.cfg.train.list, self.cfg.train.batch_size);
        }
        let total = per_epoch * self.cfg.solver.max_epoch;
        let bar = crate::progress(self.opts.progress, total as u64, self.pos.step as u64);
        let mut log =
            std::fs::OpenOptions::new().create(true).append(true).open(self.opts.out.join("train_log.jsonl"))?;
        let (mut first, mut last) = (f64::NAN, f64::NAN);
        let start_epoch = self.pos.epoch;
        for epoch in start_epoch..self.cfg.solver.max_epoch {
            let micro = self.cfg.train.batch_size / self.cfg.train.accum_steps;
            let skip = self.pos.iter * self.cfg.train.batch_size;
            let mut loader = Loader::new(self.source.clone(), self.loader_config(epoch, skip))?;
            while self.pos.iter < per_epoch {
                let t_data = Instant::now();
                let mut micro_batches = Vec::new();
                for _ in 0..self.cfg.train.accum_steps {
                    match loader.next() {
                        Some(b) => micro_batches.push(b?),
                        None => break,
                    }
                }
                if micro_batches.len() < self.cfg.train.accum_steps
                    || micro_batches.iter().any(|b| b.labels.len() < micro)
                {
                    break; // bad clips skipped shortened the epoch
                }
                let wait = t_data.elapsed().as_secs_f64();
                let t_step = Instant::now();
                let parts = self.step(epoch, &micro_batches, per_epoch)?;
                for b in micro_batches {
                    loader.recycle(b);
                }
                if !parts[0].is_finite() {
                    bail!(
                        "non-finite loss {} at step {} (epoch {}, iteration {}); the last good checkpoint is in {}",
                        parts[0],
                        self.pos.step + 1,
                        epoch,
                        self.pos.iter,
                        checkpoint::dir(&self.opts.out).display()
                    );
                }
                self.pos.iter += 1;
                self.pos.step += 1;
                let secs = t_step.elapsed().as_secs_f64() + wait;
                if first.is_nan() {
                    first = parts[0];
                }
                last = parts[0];
                let lr = self.cfg.schedule().at_iter(epoch, self.pos.iter - 1, per_epoch);
                let line = serde_json::json!({
                    "step": self.pos.step, "epoch": epoch, "iter": self.pos.iter, "lr": lr,
                    "loss": parts[0], "loss_ce": parts[1], "distill_image": parts[2], "distill_text": parts[3],
                    "clips_per_s": self.cfg.train.batch_size as f64 / secs, "data_wait": wait / secs,
                    // tch exposes no CUDA allocator counters; null rather than a made-up number.
                    "gpu_mem_gb": serde_json::Value::Null,
                });
                writeln!(log, "{line}")?;
                bar.set_position(self.pos.step as u64);
                bar.set_message(format!("epoch {epoch} loss {:.4} lr {lr:.2e}", parts[0]));
                let every = self.cfg.train.checkpoint_every_steps;
                if every > 0 && self.pos.step % every == 0 {
                    self.save_resume()?;
                }
                if self.opts.max_steps.is_some_and(|m| self.pos.step >= m) {
                    bar.finish_and_clear();
                    return Ok(Summary {
                        steps: self.pos.step,
                        first_loss: first,
                        last_loss: last,
                        seconds: t0.elapsed().as_secs_f64(),
                    });
                }
            }
            drop(loader);
            self.pos = Position { epoch: epoch + 1, iter: 0, step: self.pos.step };
            if (epoch + 1) % self.cfg.train.checkpoint_period.max(1) == 0 || epoch + 1 == self.cfg.solver.max_epoch {
                checkpoint::save_atomic(&checkpoint::epoch_file(&self.opts.out, epoch + 1), &self.model_state())?;
            }
            self.save_resume()?;
        }
        bar.finish_and_clear();
        Ok(Summary { steps: self.pos.step, first_loss: first, last_loss: last, seconds: t0.elapsed().as_secs_f64() })
    }

    /// One optimizer step over the micro-batches; returns [loss, ce, distill_image, distill_text] (means).
    fn step(&mut self, epoch: usize, micro: &[Batch], per_epoch: usize) -> Result<[f64; 4]> {
        let lr = self.cfg.schedule().at_iter(epoch, self.pos.iter, per_epoch);
        // One template per step, from a stream keyed by the step (reproducible across resumes).
        let template = Rng::keyed(self.cfg.rng_seed, epoch as u64, (1 << 40) + self.pos.iter as u64).below(28);
        let ids = prompt_ids(&self.tok, &[template, BARE], &self.classes, 77)?.to_device(self.opts.device);
        let mut per_t = Vec::new();
        for t in [template, BARE] {
            let (tok, classes) = (&self.tok, &self.classes);
            per_t.push(self.teacher.template_features(t, || prompt_ids(tok, &[t], classes, 77))?);
        }
        let teacher_text = Tensor::stack(&per_t, 0);
        self.opt.zero_grad();
        let inputs: Vec<(Tensor, Tensor)> = micro
            .iter()
            .map(|b| (clips_to_tensor(b, self.opts.device), Tensor::from_slice(&b.labels).to_device(self.opts.device)))
            .collect();
        let obj = distill::Objective {
            distillation_ratio: self.cfg.model.distillation_ratio,
            alpha: self.cfg.model.projector_alpha,
        };
        let sums = accumulate_gradients(&self.student, &self.teacher, &inputs, &ids, &teacher_text, obj);
        if sums[0].is_finite() {
            let _ = self.opt.clip_grad_norm(self.cfg.solver.clip_grad_l2norm);
            self.opt.step(lr);
        }
        Ok(sums)
    }
}

/// Gradients of the mean loss over micro-batches `(video, labels)`, accumulated into the student's `.grad`;
/// returns the mean [loss, ce, distill_image, distill_text]. The student's classifier is computed once: the
/// micro-batches see a detached copy, and its accumulated gradient goes back through the text tower in one pass
/// (the backward of sum(cls * g) is the vector-Jacobian product).
pub fn accumulate_gradients(
    student: &Student,
    teacher: &Teacher,
    micro: &[(Tensor, Tensor)],
    ids: &Tensor,
    teacher_text: &Tensor,
    obj: distill::Objective,
) -> [f64; 4] {
    let (k, c) = (teacher_text.size()[0], teacher_text.size()[1]);
    let cls = classifier(&student.clip.encode_text(ids).view([k, c, -1]));
    let shared = cls.detach().set_requires_grad(true);
    // The loss parts stay on the device: one host sync per optimizer step.
    let mut parts = Tensor::zeros([4], (Kind::Float, ids.device()));
    for (video, labels) in micro {
        let f = distill::forward_with_classifier(student, teacher, video, labels, &shared, teacher_text, obj);
        (&f.loss / micro.len() as f64).backward();
        let step = Tensor::stack(&[&f.loss, &f.loss_ce, &f.distill_image, &f.distill_text], 0).detach();
        parts += step.to_kind(Kind::Float) / micro.len() as f64;
    }
    (&cls * shared.grad()).sum(Kind::Float).backward();
    let v: Vec<f64> =
        Vec::try_from(parts.to_kind(Kind::Double).to_device(tch::Device::Cpu)).expect("four f64 loss parts");
    [v[0], v[1], v[2], v[3]]
}
