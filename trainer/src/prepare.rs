//! Everything a run needs before its first step, loaded and checked without writing: the classes, the CLIP
//! weights, the learner's settings; and the run's data.json.
use crate::checkpoint;
use crate::config::Config;
use crate::distill::Objective;
use crate::error::{io_err, Error, Result};
use crate::run_dir;
use crate::step::LearnerSpec;
use crate::train::Options;
use froster_loader::{read_classes, ClipSource, ListCounts};
use froster_model::layout::{self, clip_only};
use froster_model::weights::{self, Weights};
use froster_model::ClipConfig;
use std::path::Path;
use tch::{nn, Device};

/// `data.json`: what the training list gave (listed, used, missing with paths).
pub(crate) fn write_data_json(out: &Path, list: &str, counts: &ListCounts) -> Result<()> {
    let path = out.join("data.json");
    let j = serde_json::json!({"train": {"list": list, "listed": counts.listed, "used": counts.packed, "missing": counts.missing}});
    std::fs::write(&path, serde_json::to_string_pretty(&j).unwrap_or_default()).map_err(io_err(&path))
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
        objective: Objective {
            distillation_ratio: cfg.model.distillation_ratio,
            alpha: cfg.model.projector_alpha,
            contrastive: cfg.model.objective == crate::config::TrainObjective::Contrastive,
        },
        weight_decay: cfg.solver.weight_decay,
        clip_grad_norm: cfg.solver.clip_grad_l2norm,
        compute: cfg.compute_kind(device),
        seed: cfg.rng_seed,
        device,
    }
}

/// The training classes (DATA.CLASSES), each pack label checked against them.
pub(crate) fn training_classes(cfg: &Config, packs: &Path, source: &dyn ClipSource) -> Result<Vec<String>> {
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

/// The teacher CLIP: the run's saved copy when resuming, else MODEL.CLIP (the caller saves it into the run for
/// averaging and patching).
pub(crate) fn teacher_weights(cfg: &Config, opts: &Options, resuming: bool) -> Result<(ClipConfig, Weights)> {
    let path = layout::teacher_file(&opts.out);
    if resuming && path.exists() {
        let w = weights::load(&path)?;
        return Ok((ClipConfig::from_weights(&w)?, w));
    }
    initial_clip(cfg, opts.device)
}

/// The student's initial CLIP weights and config: from MODEL.CLIP, or a seeded random init of MODEL.ARCH.
pub fn initial_clip(cfg: &Config, device: Device) -> Result<(ClipConfig, Weights)> {
    if cfg.model.clip == "random" {
        let cc = ClipConfig::preset(&cfg.model.arch)?;
        tch::manual_seed(cfg.rng_seed as i64);
        let vs = nn::VarStore::new(device);
        let _ = froster_model::Clip::new(&vs.root(), &cc);
        return Ok((cc, weights::snapshot(&vs)));
    }
    let w = clip_only(&weights::load(Path::new(&cfg.model.clip))?);
    Ok((ClipConfig::from_weights(&w)?, w))
}

/// The run folder of a fresh or resumed run: emptied if asked, the teacher saved (fresh runs), config.toml and
/// data.json written.
pub(crate) fn prepare_folder(
    cfg: &Config,
    opts: &Options,
    counts: &ListCounts,
    teacher: &Weights,
    fresh: bool,
) -> Result<()> {
    run_dir::prepare(&opts.out, opts.start)?;
    let ckpt_dir = layout::checkpoints_dir(&opts.out);
    std::fs::create_dir_all(&ckpt_dir).map_err(io_err(&ckpt_dir))?;
    if fresh {
        checkpoint::save_atomic(&layout::teacher_file(&opts.out), teacher)?;
    }
    let config_file = opts.out.join("config.toml");
    std::fs::write(&config_file, cfg.to_toml()).map_err(io_err(&config_file))?;
    write_data_json(&opts.out, &cfg.train.list, counts)
}

/// TRAIN.BATCH_SIZE is the global batch: each rank takes its share, in TRAIN.ACCUM_STEPS micro-batches.
pub fn per_rank_batch(cfg: &Config, world: usize) -> Result<usize> {
    let b = cfg.train.batch_size;
    if world == 0 {
        return Err(Error::Config("the run needs at least one rank (--nproc-per-node and --nnodes >= 1)".into()));
    }
    if b % world != 0 || (b / world) % cfg.train.accum_steps != 0 {
        return Err(Error::Config(format!(
            "TRAIN.BATCH_SIZE {b} (the global batch) must divide by the {world} ranks, and each rank's {} by \
             TRAIN.ACCUM_STEPS {}",
            b as f64 / world as f64,
            cfg.train.accum_steps
        )));
    }
    Ok(b / world)
}
