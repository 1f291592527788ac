//! FROSTER: a student CLIP with temporal attention, a frozen teacher CLIP, residual projectors, and the text
//! classifier built from the reference's templates.
use crate::clip::{l2n, Clip};
use crate::config::ClipConfig;
use crate::error::Result;
use crate::tokenizer::Tokenizer;
use tch::nn::{self, Init};
use tch::{Device, Kind, Tensor};

/// The reference's 28 prompt templates; index 28 is the bare rephrased name.
pub const TEMPLATES: [&str; NUM_TEMPLATES + 1] = [
    "a photo of {}.",
    "a photo of a person {}.",
    "a photo of a person using {}.",
    "a photo of a person doing {}.",
    "a photo of a person during {}.",
    "a photo of a person performing {}.",
    "a photo of a person practicing {}.",
    "a video of {}.",
    "a video of a person {}.",
    "a video of a person using {}.",
    "a video of a person doing {}.",
    "a video of a person during {}.",
    "a video of a person performing {}.",
    "a video of a person practicing {}.",
    "a example of {}.",
    "a example of a person {}.",
    "a example of a person using {}.",
    "a example of a person doing {}.",
    "a example of a person during {}.",
    "a example of a person performing {}.",
    "a example of a person practicing {}.",
    "a demonstration of {}.",
    "a demonstration of a person {}.",
    "a demonstration of a person using {}.",
    "a demonstration of a person doing {}.",
    "a demonstration of a person during {}.",
    "a demonstration of a person performing {}.",
    "a demonstration of a person practicing {}.",
    "{}",
];
/// The index of the bare template (the rephrased name as it is).
pub const BARE: usize = NUM_TEMPLATES;
/// How many real templates there are; training draws one of them per step.
pub const NUM_TEMPLATES: usize = 28;

/// The prompt of class `name` ("Short name: description") under template `t`: the template formatted with the
/// short name, a space, then the full string; the bare template keeps the string unchanged.
pub fn prompt(t: usize, name: &str) -> String {
    if t == BARE {
        return name.to_string();
    }
    let short = name.split(':').next().unwrap_or(name);
    format!("{} {}", TEMPLATES[t].replace("{}", short), name)
}

/// Token ids [templates.len() * C, 77], template-major.
pub fn prompt_ids(tok: &Tokenizer, templates: &[usize], classes: &[String], context: usize) -> Result<Tensor> {
    let mut ids = Vec::with_capacity(templates.len() * classes.len() * context);
    for &t in templates {
        for c in classes {
            ids.extend(tok.tokenize(&prompt(t, c), context)?);
        }
    }
    Ok(Tensor::from_slice(&ids).view([(templates.len() * classes.len()) as i64, context as i64]))
}

/// Classifier from per-template raw text features [K, C, D]: normalise rows, average templates, renormalise.
pub fn classifier(per_template: &Tensor) -> Tensor {
    l2n(&l2n(per_template).mean_dim([0i64].as_slice(), false, Kind::Float))
}

/// Linear(D, D, no bias) -> GELU (erf) -> Linear(D, D, no bias); f + 0.1 * projector(f) is the student's feature.
pub struct Projector {
    w0: Tensor,
    w2: Tensor,
}

impl Projector {
    /// A projector under `p` (`projector_v` or `projector_t`), initialised as the reference's.
    pub fn new(p: nn::Path, dim: i64) -> Self {
        // kaiming_normal_ (fan_in, gain sqrt(2)) then zeros, as the reference: the student starts equal to CLIP.
        let std = (2.0 / dim as f64).sqrt();
        Projector {
            w0: (&p / 0).var("weight", &[dim, dim], Init::Randn { mean: 0.0, stdev: std }),
            w2: (&p / 2).var("weight", &[dim, dim], Init::Const(0.0)),
        }
    }
    /// The projector's output for features `x` [N, D].
    pub fn forward(&self, x: &Tensor) -> Tensor {
        x.linear::<Tensor>(&self.w0, None).gelu("none").linear::<Tensor>(&self.w2, None)
    }
    /// `x + alpha * projector(x)`: the student's projected feature.
    pub fn residual(&self, x: &Tensor, alpha: f64) -> Tensor {
        x + self.forward(x) * alpha
    }
}

/// The trainable part: student CLIP (under `model.`) and both projectors, in one VarStore.
pub struct Student {
    /// The student CLIP (`model.*`), run with temporal attention over `frames` frames.
    pub clip: Clip,
    /// The visual projector (`projector_v.*`).
    pub projector_v: Projector,
    /// The text projector (`projector_t.*`).
    pub projector_t: Projector,
    /// Frames per clip (T).
    pub frames: i64,
}

impl Student {
    /// A randomly initialised student under `root`, with clips of `frames` frames.
    pub fn new(root: &nn::Path, cfg: &ClipConfig, frames: i64) -> Self {
        Student {
            clip: Clip::new(&(root / "model"), cfg),
            projector_v: Projector::new(root / "projector_v", cfg.embed_dim),
            projector_t: Projector::new(root / "projector_t", cfg.embed_dim),
            frames,
        }
    }

    /// Video [B, T, 3, R, R] -> per-frame features [B*T, D], frame n = b*T + t.
    pub fn encode_video(&self, video: &Tensor) -> Tensor {
        self.clip.encode_image(&frames_of(video), Some(self.frames))
    }
}

/// Video [B, T, 3, R, R] -> frames [B*T, 3, R, R] (a view: frame n = b*T + t).
pub fn frames_of(video: &Tensor) -> Tensor {
    let s = video.size();
    video.reshape([s[0] * s[1], s[2], s[3], s[4]])
}

/// The frozen teacher: a plain CLIP in its own VarStore, no gradients, text features cached per template.
pub struct Teacher {
    /// Its frozen variables.
    pub vs: nn::VarStore,
    /// The teacher CLIP.
    pub clip: Clip,
    cache: std::collections::HashMap<usize, Tensor>,
}

impl Teacher {
    /// A randomly initialised, frozen teacher on `device`; load it with [`crate::weights::apply`].
    pub fn new(cfg: &ClipConfig, device: Device) -> Self {
        let mut vs = nn::VarStore::new(device);
        let clip = Clip::new(&vs.root(), cfg);
        vs.freeze();
        Teacher { vs, clip, cache: Default::default() }
    }

    /// Stores the frozen weights that a `kind` compute casts at every forward (see [`Clip::set_compute`]) in
    /// `kind` once: the same features, without a cast kernel per weight per step, in half the memory. LayerNorm
    /// parameters (computed in f32) and `logit_scale` stay as they are. Call it before the first forward.
    pub fn store_weights_in(&mut self, kind: Kind) {
        for (name, mut v) in self.vs.variables() {
            let is_ln = name.split('.').any(|part| part.starts_with("ln_"));
            if !is_ln && name != "logit_scale" && v.kind() != kind {
                let cast = v.to_kind(kind);
                tch::no_grad(|| v.set_data(&cast));
            }
        }
        self.cache.clear();
    }

    /// Normalised per-frame image features, no grad.
    pub fn image_features(&self, frames: &Tensor) -> Tensor {
        tch::no_grad(|| l2n(&self.clip.encode_image(frames, None)))
    }

    /// Raw text features of one template over all classes, computed once and cached (the reference recomputes
    /// them every step).
    pub fn template_features(&mut self, t: usize, ids: impl FnOnce() -> Result<Tensor>) -> Result<Tensor> {
        if let Some(f) = self.cache.get(&t) {
            return Ok(f.shallow_clone());
        }
        let ids = ids()?.to_device(self.vs.device());
        let f = tch::no_grad(|| self.clip.encode_text(&ids));
        self.cache.insert(t, f.shallow_clone());
        Ok(f)
    }
}
