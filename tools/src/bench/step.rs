//! `froster-bench train-step` and `eval-step`: the trainer's own step ([`Learner::step`], or with `--packs`
//! froster-train's whole loop, loader included) and the evaluation step ([`eval_step`]), timed.
use super::flops::{text_flops, text_tokens, vision_flops};
use super::peak_rss_mb;
use crate::error::{io_err, Result};
use froster_loader::{Batch, PackReader};
use froster_model::{prompt_ids, ClipConfig, Ops, Tokenizer, CONTEXT};
use froster_train::config::{Config, ConfigArgs};
use froster_train::dist::{DistOptions, World};
use froster_train::graph::StepGraph;
use froster_train::input::Clips;
use froster_train::prepare::{initial_clip, learner_spec};
use froster_train::run_dir::Start;
use froster_train::step::{ops, step_template, Learner};
use froster_train::train::{Event, Options, StepReport, Trainer};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tch::Device;

/// What to time.
#[derive(clap::Args, Debug, Clone)]
pub struct StepArgs {
    /// froster-train's config flags (the base config is ViT-B/16).
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Shortcut: --set MODEL.ARCH=ARCH (vit_b16, tiny, ...) with crops at the model's resolution.
    #[arg(long)]
    pub arch: Option<String>,
    /// Shortcut: --set TRAIN.BATCH_SIZE=N --set TRAIN.ACCUM_STEPS=1.
    #[arg(long)]
    pub batch: Option<usize>,
    /// Shortcut: --set DATA.NUM_FRAMES=N.
    #[arg(long)]
    pub frames: Option<usize>,
    /// Synthetic class names when DATA.CLASSES and --class-file are not set.
    #[arg(long, default_value_t = 200)]
    pub classes: usize,
    /// Real class names (a rephrased JSON, e.g. B2N_k400/train_rephrased.json: 200 names whose prompts reach
    /// about 63 tokens) instead of synthetic ones.
    #[arg(long)]
    pub class_file: Option<PathBuf>,
    /// Timed steps.
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    /// Untimed steps first.
    #[arg(long, default_value_t = 1)]
    pub warmup: usize,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// The device's bf16 peak in TFLOP/s for MFU (default: 989 on CUDA (H100), none on CPU).
    #[arg(long)]
    pub peak_tflops: Option<f64>,
    /// Feed real clips from this pack: train-step runs froster-train's own loop on it (loader, epochs cycling),
    /// and reports the data-wait fraction. Without it the input is one synthetic batch.
    #[arg(long)]
    pub packs: Option<PathBuf>,
    /// The fused multi-tensor AdamW and foreach grad norm: on or off [default: on for CUDA] (synthetic input).
    #[arg(long, value_parser = clap::builder::BoolishValueParser::new())]
    pub fused_optimizer: Option<bool>,
    /// froster-shim's fused QuickGELU and f32 LayerNorm: on or off [default: on for CUDA] (synthetic input and
    /// eval-step).
    #[arg(long, value_parser = clap::builder::BoolishValueParser::new())]
    pub fused_kernels: Option<bool>,
    /// froster-shim's temporal attention op, which keeps q, k, v instead of the tripled keys and values for
    /// backward: on or off [default: on for CUDA] (synthetic input and eval-step).
    #[arg(long, value_parser = clap::builder::BoolishValueParser::new())]
    pub attention_op: Option<bool>,
    /// Run each tower's last block past its attention on the pooled token only (class token, EOT): on or off
    /// [default: on] (synthetic input and eval-step). The same values; off runs it on every token, as the
    /// reference and the PyTorch peer do.
    #[arg(long, value_parser = clap::builder::BoolishValueParser::new())]
    pub pooled_last_block: Option<bool>,
    /// Run the student's prompts packed end to end (each prompt's own tokens; flash attention's variable-length
    /// kernel on CUDA): on or off [default: on] (synthetic input). Off pads them to the longest prompt of all
    /// templates. The same values.
    #[arg(long, value_parser = clap::builder::BoolishValueParser::new())]
    pub packed_text: Option<bool>,
    /// Record the step's forward and backward once as a CUDA graph and replay it: on or off [default: on for
    /// CUDA] (synthetic input). On the CPU, "on" runs the same static-input plumbing with an eager replay.
    #[arg(long, value_parser = clap::builder::BoolishValueParser::new())]
    pub cuda_graph: Option<bool>,
    /// Move the next batches to the device while the current step runs (froster-train --prefetch): on or off
    /// [default: on for CUDA] (--packs). Off copies each batch between steps, counted in data_wait.
    #[arg(long, value_parser = clap::builder::BoolishValueParser::new())]
    pub prefetch: Option<bool>,
    /// Also time each phase of --steps more steps (synthetic input; the device is waited for at every phase, so
    /// these steps are slower): "phases_ms", the mean ms per step of each.
    #[arg(long)]
    pub profile: bool,
    /// Also run --steps more steps under libtorch's profiler (synthetic input; on CUDA through CUPTI, a recorded
    /// graph's kernels too): "trace", per step the wall ms, the ms the device was busy and its idle share (launch
    /// gaps, host work), and the kernels that took longest. On the CPU the CPU ops stand in.
    #[arg(long)]
    pub trace: bool,
    /// The run folder of --packs (default: a temporary one, removed after).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl StepArgs {
    /// --prefetch, or the trainer's default for `device`.
    pub(super) fn prefetch(&self, device: Device) -> bool {
        self.prefetch.unwrap_or(froster_train::feed::prefetch_by_default(device))
    }

    pub(super) fn config(&self) -> Result<Config> {
        let mut c = self.config.clone();
        c.defaults.push("MODEL.CLIP=random".into());
        if let Some(a) = &self.arch {
            let res = ClipConfig::preset(a)?.image_resolution;
            c.sets.extend([format!("MODEL.ARCH={a}"), format!("DATA.TRAIN_CROP_SIZE={res}")]);
            c.sets.extend([
                format!("DATA.TEST_CROP_SIZE={res}"),
                format!("DATA.TRAIN_JITTER_SCALES=[{res}, {}]", res * 8 / 7),
            ]);
        }
        if let Some(b) = self.batch {
            c.sets.extend([format!("TRAIN.BATCH_SIZE={b}"), "TRAIN.ACCUM_STEPS=1".into()]);
        }
        if let Some(f) = self.frames {
            c.sets.push(format!("DATA.NUM_FRAMES={f}"));
        }
        Ok(c.load()?)
    }
}

/// Synthetic class names, with prompts about as long as rephrased ones.
fn synthetic_names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("Action number {i}: a person performs action {i} in this video")).collect()
}

/// The bench's class names: --class-file's, else `n` synthetic ones.
pub(super) fn bench_classes(file: Option<&Path>, n: usize) -> Result<Vec<String>> {
    match file {
        Some(f) => Ok(froster_loader::read_classes(f)?),
        None => Ok(synthetic_names(n)),
    }
}

/// The token ids [29, C, 77] of every prompt of `classes` (the 28 templates, then the bare names), for the
/// PyTorch peer, which has no tokenizer of its own: the same prompts, the same lengths.
pub fn prompts(class_file: &Path, out: &Path) -> Result<String> {
    let classes = froster_loader::read_classes(class_file)?;
    let all: Vec<usize> = (0..froster_model::TEMPLATES.len()).collect();
    let ids =
        prompt_ids(&Tokenizer::new(), &all, &classes, CONTEXT)?.view([all.len() as i64, classes.len() as i64, -1]);
    let longest = ids.argmax(-1, false).max().int64_value(&[]) + 1;
    // int32 halves what the GPU script carries; the peer widens them.
    let ids = ids.to_kind(tch::Kind::Int);
    froster_model::weights::save(out, &[("ids".to_string(), ids)].into_iter().collect())?;
    Ok(format!("{} classes x {} prompts (longest {longest} tokens) -> {}", classes.len(), all.len(), out.display()))
}

/// Times optimizer steps: the numbers as JSON.
pub fn train(a: StepArgs) -> Result<serde_json::Value> {
    let cfg = a.config()?;
    let device = froster_model::parse_device(&a.device)?;
    reset_peak(device);
    let timing = match &a.packs {
        Some(p) => train_from_pack(&a, cfg.clone(), p, device)?,
        None => train_synthetic(&a, &cfg, device)?,
    };
    report(&a, &cfg, device, "train-step", &timing)
}

pub(super) fn reset_peak(device: Device) {
    if let Device::Cuda(i) = device {
        froster_shim::cuda_reset_peak(i);
    }
}

/// GiB the CUDA caching allocator handed out at most since [`reset_peak`] (what torch.cuda.max_memory_allocated
/// reports, unlike nvidia-smi's reserved totals); None on the CPU.
fn peak_alloc_gb(device: Device) -> Option<f64> {
    match device {
        Device::Cuda(i) => froster_shim::cuda_peak_allocated(i).map(|b| b as f64 / (1u64 << 30) as f64),
        _ => None,
    }
}

/// Seconds of the timed steps, of which waiting for data, and every step's loss (training).
pub(super) struct Timing {
    pub(super) secs: f64,
    pub(super) wait: f64,
    pub(super) losses: Option<Vec<f64>>,
    /// Under a process group: (ranks, backend's all-reduce of every gradient in ms, gradient MB).
    pub(super) dist: Option<(usize, f64, f64)>,
    /// With --profile: mean ms per step of each phase.
    pub(super) phases: Option<Vec<(String, f64)>>,
    /// How the timed steps ran (Learner::step_graph_status).
    pub(super) graph: Option<String>,
    /// With --trace: where the device's time went ([`super::trace::traced`]).
    pub(super) trace: Option<serde_json::Value>,
}

/// The trainer's ops for `device`, with --fused-kernels and --attention-op applied.
pub(super) fn bench_ops(a: &StepArgs, device: Device) -> Ops {
    let pick = |flag: Option<bool>| match flag.unwrap_or(device.is_cuda()) {
        true => ops(true),
        false => Ops::EAGER,
    };
    let (kernels, attention) = (pick(a.fused_kernels), pick(a.attention_op));
    Ops { temporal_attention: attention.temporal_attention, ..kernels }
}

/// Synthetic input: one batch of random clips through [`Learner::step`].
fn train_synthetic(a: &StepArgs, cfg: &Config, device: Device) -> Result<Timing> {
    let (clip_cfg, w) = initial_clip(cfg, device)?;
    let mut learner =
        Learner::new(learner_spec(cfg, &clip_cfg, &w, bench_classes(a.class_file.as_deref(), a.classes)?, device))?;
    // Under torchrun (or RANK/WORLD_SIZE/MASTER_* set by hand) the step averages gradients over the ranks: a world
    // of 1 measures what the process group costs.
    let (world, _) = World::from_env(device, DistOptions::default())?;
    let world = Arc::new(world);
    learner.join(world.clone())?;
    if let Some(f) = a.fused_optimizer {
        learner.set_fused_optimizer(f);
    }
    learner.set_ops(bench_ops(a, device));
    learner.set_pooled_last_block(a.pooled_last_block.unwrap_or(true));
    learner.set_packed_text(a.packed_text.unwrap_or(true));
    if let Some(g) = a.cuda_graph {
        learner.set_step_graph(if g { StepGraph::On } else { StepGraph::Off });
    }
    let micro = [Clips::from_batch(&synthetic_batch(cfg, cfg.data.train_crop_size, cfg.train.batch_size), device)];
    let mut losses = Vec::new();
    let mut timed = 0.0;
    for i in 0..a.warmup + a.steps {
        let t0 = Instant::now();
        let parts = learner.step(&micro, step_template(cfg.rng_seed, 0, i), cfg.solver.base_lr)?;
        losses.push(parts.loss); // the loss is read back: the step has finished on the device
        if i >= a.warmup {
            timed += t0.elapsed().as_secs_f64();
        }
    }
    let dist = match world.is_distributed() {
        true => Some(time_allreduce(&world, &learner, a.steps.max(1))?),
        false => None,
    };
    let graph = Some(learner.step_graph_status());
    // Traced steps run as the timed ones (a recorded graph replays); they come before the profiled ones, which
    // would run eagerly.
    let first = a.warmup + a.steps;
    let trace = match a.trace {
        true => Some(super::trace::traced(device, a.steps, |i| {
            learner.step(&micro, step_template(cfg.rng_seed, 0, first + i), cfg.solver.base_lr)?;
            Ok(())
        })),
        false => None,
    };
    // Profiled steps run eagerly (their marks wait for the device, which a recorded step cannot).
    let phases = match a.profile {
        true => Some(profile_steps(&mut learner, &micro, cfg, first + a.trace as usize * a.steps, a.steps.max(1))?),
        false => None,
    };
    Ok(Timing { secs: timed, wait: 0.0, losses: Some(losses), dist, phases, graph, trace })
}

/// Mean ms per step of each phase over `n` profiled steps (froster_train::profile), numbered on from `first`.
fn profile_steps(
    learner: &mut Learner,
    micro: &[Clips],
    cfg: &Config,
    first: usize,
    n: usize,
) -> Result<Vec<(String, f64)>> {
    froster_train::profile::start(learner.device());
    for i in first..first + n {
        learner.step(micro, step_template(cfg.rng_seed, 0, i), cfg.solver.base_lr)?;
    }
    let phases = froster_train::profile::stop();
    Ok(phases.into_iter().map(|(p, s)| (p.to_string(), s * 1e3 / n as f64)).collect())
}

/// (ranks, ms of one bucketed all-reduce of every gradient, their MB): the communication of one step.
fn time_allreduce(world: &World, learner: &Learner, reps: usize) -> Result<(usize, f64, f64)> {
    let grads = learner.gradients();
    let mb = grads.iter().map(|g| g.numel() * g.kind().elt_size_in_bytes()).sum::<usize>() as f64 / 1e6;
    world.average(&grads)?;
    let t0 = Instant::now();
    for _ in 0..reps {
        world.average(&grads)?;
    }
    let _ = grads.first().map(|g| g.sum(tch::Kind::Float).double_value(&[])); // wait for the device
    Ok((world.size, t0.elapsed().as_secs_f64() * 1e3 / reps as f64, mb))
}

/// Real clips: froster-train's loop on the pack, stopped after warmup + steps.
fn train_from_pack(a: &StepArgs, mut cfg: Config, packs: &Path, device: Device) -> Result<Timing> {
    let tmp = std::env::temp_dir().join(format!("froster-bench-run-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
    let out = a.out.clone().unwrap_or(tmp.join("run"));
    let reader = PackReader::open(packs)?;
    if reader.list(&cfg.train.list).is_err() {
        cfg.train.list = reader.manifest().lists.keys().next().cloned().unwrap_or_default();
    }
    if cfg.data.classes.is_empty() && cfg.classes_from_pack(packs).is_none() {
        let file = tmp.join("bench_classes.json");
        let map: serde_json::Map<String, serde_json::Value> = bench_classes(a.class_file.as_deref(), a.classes)?
            .into_iter()
            .enumerate()
            .map(|(i, c)| (i.to_string(), c.into()))
            .collect();
        std::fs::write(&file, serde_json::Value::from(map).to_string()).map_err(io_err(&file))?;
        cfg.data.classes = file.to_string_lossy().into_owned();
    }
    let total = a.warmup + a.steps;
    // A fresh folder (a --out that holds another run is refused), which this benchmark then owns.
    let prefetch = a.prefetch(device);
    let options = |start| trainer_options(packs, &out, device, total, start, prefetch);
    let mut trainer = Trainer::new(cfg.clone(), options(Start::Fresh))?;
    // A small pack runs out within a few steps: run as many epochs as the steps need.
    let per_epoch = trainer.steps_per_epoch().max(1);
    if per_epoch * cfg.solver.max_epoch < total {
        cfg.solver.max_epoch = total.div_ceil(per_epoch);
        trainer = Trainer::new(cfg, options(Start::Overwrite))?;
    }
    let mut reports: Vec<StepReport> = Vec::new();
    trainer.run_with(|e| {
        if let Event::Step(r) = e {
            reports.push(r.clone())
        }
    })?;
    let _ = std::fs::remove_dir_all(&tmp);
    let timed = &reports[a.warmup.min(reports.len())..];
    let secs = timed.iter().map(|r| r.seconds).sum();
    let wait = timed.iter().map(|r| r.wait).sum();
    let losses = Some(reports.iter().map(|r| r.parts.loss).collect());
    Ok(Timing { secs, wait, losses, dist: None, phases: None, graph: None, trace: None })
}

fn trainer_options(packs: &Path, out: &Path, device: Device, total: usize, start: Start, prefetch: bool) -> Options {
    Options {
        packs: packs.into(),
        out: out.into(),
        start,
        strict: false,
        device,
        progress: false,
        max_steps: Some(total),
        checkpoints: false,
        cuda_graph: true,
        prefetch,
        world: std::sync::Arc::new(froster_train::dist::World::single()),
    }
}

/// A batch of random uint8 clips in the loader's layout.
pub(super) fn synthetic_batch(cfg: &Config, crop: usize, batch: usize) -> Batch {
    let shape = [batch, cfg.data.num_frames, crop, crop, 3];
    let n: usize = shape.iter().product();
    let mut rng = froster_loader::Rng::new(cfg.rng_seed);
    let u8 = (0..n).map(|_| (rng.next_u64() >> 56) as u8).collect();
    Batch {
        u8,
        shape,
        labels: vec![0; batch],
        videos: (0..batch).collect(),
        views: vec![(0, 0); batch],
        ..Default::default()
    }
}

/// clips/s, ms/step, data-wait, FLOPs and MFU, peak RSS.
pub(super) fn report(a: &StepArgs, cfg: &Config, device: Device, bench: &str, t: &Timing) -> Result<serde_json::Value> {
    let clip = ClipConfig::preset(&cfg.model.arch)?;
    let (batch, frames) = (cfg.train.batch_size as f64, cfg.data.num_frames as f64);
    let per_step = t.secs / a.steps.max(1) as f64;
    let flops = if t.losses.is_some() {
        // student vision fwd+bwd (3x), teacher vision fwd, student text fwd+bwd over 2 templates (teacher cached)
        let names = bench_classes(a.class_file.as_deref(), a.classes)?;
        let prompts = 2.0 * names.len() as f64;
        3.0 * batch * frames * vision_flops(&clip, true)
            + batch * frames * vision_flops(&clip, false)
            + 3.0 * text_flops(&clip, prompts, text_tokens(&names)?)
    } else {
        batch * frames * vision_flops(&clip, true)
    };
    let peak = a.peak_tflops.or(if device.is_cuda() { Some(989.0) } else { None });
    let (secs, wait, losses) = (t.secs, t.wait, &t.losses);
    Ok(json!({"bench": bench, "arch": cfg.model.arch, "device": format!("{device:?}"), "batch": batch,
               "precision": if cfg.compute_kind(device).is_some() {"bf16"} else {"f32"},
               "clips_per_s": batch / per_step, "ms_per_step": per_step * 1e3, "peak_rss_gb": peak_rss_mb() / 1024.0,
               "tflop_per_step": flops / 1e12, "mfu": peak.map(|p| flops / per_step / (p * 1e12)),
               "data_wait": if secs > 0.0 { wait / secs } else { 0.0 }, "losses": losses,
               "input": if a.packs.is_some() {"packs"} else {"synthetic"},
               "ranks": t.dist.map(|d| d.0), "allreduce_ms": t.dist.map(|d| d.1), "grad_mb": t.dist.map(|d| d.2),
               "peak_alloc_gb": peak_alloc_gb(device),
               "fused_kernels": a.fused_kernels.unwrap_or(device.is_cuda()), "kernels": froster_shim::kernels_status(),
               "attention_op": a.attention_op.unwrap_or(device.is_cuda()),
               "pooled_last_block": a.pooled_last_block.unwrap_or(true), "packed_text": a.packed_text.unwrap_or(true),
               "prefetch": a.packs.as_ref().map(|_| a.prefetch(device)),
               "step_graph": t.graph, "phases_ms": t.phases, "trace": t.trace}))
}
