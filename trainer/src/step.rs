//! One optimizer step: the seam that `froster-train`, `froster-bench train-step` and the tests share.
//! A [`Learner`] holds what a step touches (student, frozen teacher, AdamW, the class prompts and the teacher's
//! cached text features); [`Learner::step`] runs the micro-batches, the shared classifier, backward, gradient
//! clipping and AdamW.
use crate::adamw::AdamW;
use crate::dist::World;
use crate::distill::{self, Objective};
use crate::error::Result;
use crate::graph::{Recorded, StepGraph};
use crate::input::Clips;
use crate::profile;
use crate::prompts::Prompts;
use froster_loader::Rng;
use froster_model::layout::{optim_key, optim_state};
use froster_model::weights::{self, Weights};
use froster_model::{classifier, ClipConfig, Ops, PackedLayout, Student, Teacher, BARE, NUM_TEMPLATES};
use std::sync::Arc;
use tch::{nn, Device, Kind, Tensor};

pub use crate::fused::ops;

/// The mean loss and its parts over one optimizer step's micro-batches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossParts {
    /// The total: `ce + distillation_ratio * (distill_image + distill_text)`.
    pub loss: f64,
    /// Cross-entropy of the student's logits.
    pub ce: f64,
    /// Visual distillation: 1 - cos(projected student image feature, teacher image feature).
    pub distill_image: f64,
    /// Text distillation: 1 - cos(projected student classifier, teacher classifier).
    pub distill_text: f64,
}

impl LossParts {
    /// From the device tensor [loss, ce, distill_image, distill_text] (one host sync).
    fn from_tensor(parts: &Tensor) -> Self {
        let v = Vec::<f64>::try_from(parts.to_kind(Kind::Double).to_device(Device::Cpu)).unwrap_or(vec![f64::NAN; 4]);
        LossParts { loss: v[0], ce: v[1], distill_image: v[2], distill_text: v[3] }
    }

    /// Whether every part is finite.
    pub fn is_finite(&self) -> bool {
        [self.loss, self.ce, self.distill_image, self.distill_text].iter().all(|x| x.is_finite())
    }
}

/// What a learner is made of.
pub struct LearnerSpec<'a> {
    /// The CLIP architecture.
    pub clip: &'a ClipConfig,
    /// CLIP weights (OpenAI keys) for the student and the teacher.
    pub weights: &'a Weights,
    /// Frames per clip.
    pub frames: i64,
    /// The training classes' rephrased names.
    pub classes: Vec<String>,
    /// Loss weights.
    pub objective: Objective,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Gradient clipping (global L2 norm).
    pub clip_grad_norm: f64,
    /// Compute dtype of both towers (None: f32); master weights and optimizer state stay f32.
    pub compute: Option<Kind>,
    /// Seed of the projectors' initialisation.
    pub seed: u64,
    /// Where everything lives.
    pub device: Device,
}

/// Everything one optimizer step touches.
pub struct Learner {
    vs: nn::VarStore,
    student: Student,
    teacher: Teacher,
    opt: AdamW,
    prompts: Prompts,
    objective: Objective,
    clip_grad_norm: f64,
    device: Device,
    world: Arc<World>,
    graph: StepGraph,
    recorded: Option<Recorded>,
    /// Why graphs stand aside for this learner, once they failed.
    graph_failed: Option<String>,
    /// The student's prompts packed end to end (else padded).
    packed_text: bool,
}

impl Learner {
    /// A student initialised from the CLIP weights (projectors as the reference's init), its frozen teacher, and
    /// a fresh AdamW.
    pub fn new(spec: LearnerSpec) -> Result<Self> {
        tch::manual_seed(spec.seed as i64 + 1);
        let (vs, mut student) = crate::build::student(spec.clip, spec.frames, spec.weights, None, spec.device)?;
        let mut teacher = crate::build::teacher(spec.clip, spec.weights, spec.device)?;
        student.clip.set_compute(spec.compute);
        teacher.clip.set_compute(spec.compute);
        if let Some(kind) = spec.compute {
            // Frozen: its weights are cast once, not at every forward (the same values).
            teacher.store_weights_in(kind);
        }
        let ops = ops(spec.device.is_cuda());
        student.clip.set_ops(ops);
        teacher.clip.set_ops(ops);
        let mut params: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let mut opt = AdamW::new(params, spec.weight_decay);
        // libtorch's fused multi-tensor AdamW where launches dominate (CUDA); the per-tensor loop elsewhere.
        opt.set_fused(spec.device.is_cuda());
        Ok(Learner {
            opt,
            vs,
            student,
            teacher,
            prompts: Prompts::new(spec.classes),
            objective: spec.objective,
            clip_grad_norm: spec.clip_grad_norm,
            device: spec.device,
            world: Arc::new(World::single()),
            graph: if spec.device.is_cuda() { StepGraph::On } else { StepGraph::Off },
            recorded: None,
            graph_failed: None,
            packed_text: true,
        })
    }

    /// Trains as one of `world`'s ranks: rank 0's weights are broadcast now (as DDP's construction), and every
    /// step averages the gradients and the loss parts over the ranks before clipping and AdamW.
    pub fn join(&mut self, world: Arc<World>) -> Result<()> {
        let params: Vec<Tensor> = self.opt.params().iter().map(|(_, p)| p.shallow_clone()).collect();
        world.broadcast_from_main(&params)?;
        self.world = world;
        Ok(())
    }

    /// One optimizer step over `micro` (their mean loss), with prompt template `template` and learning rate
    /// `lr`. A non-finite loss leaves the weights untouched.
    pub fn step(&mut self, micro: &[Clips], template: usize, lr: f64) -> Result<LossParts> {
        if self.objective.contrastive {
            return self.contrastive_step(micro, lr);
        }
        let teacher_text = self.teacher_text(template)?;
        let parts = match self.graph == StepGraph::On && self.graph_failed.is_none() && !profile::active() {
            true => self.replayed(micro, template, &teacher_text)?,
            false => None,
        };
        let parts = match parts {
            Some(p) => p,
            None => {
                let (layout, input) = self.prompts.step_text(template, self.packed_text, self.device)?;
                profile::mark("prompts, teacher text (cached per template)");
                self.opt.zero_grad();
                let text = Text::of(layout, &input);
                accumulate_gradient_tensors(&self.student, &self.teacher, micro, text, &teacher_text, self.objective)
            }
        };
        self.apply(&parts, lr)
    }

    /// The step's forward and backward from the recorded graph (recorded at the first call): its loss parts, or
    /// None where the eager step must run (other shapes than recorded, or graphs standing aside from now on).
    fn replayed(&mut self, micro: &[Clips], template: usize, teacher_text: &Tensor) -> Result<Option<Tensor>> {
        let (layout, ids) = self.prompts.step_text(template, self.packed_text, self.device)?;
        let (s, t, opt, obj) = (&self.student, &self.teacher, &self.opt, self.objective);
        let body = |st: &crate::graph::Statics| {
            opt.zero_grad();
            accumulate_gradient_tensors(s, t, &st.micro, Text::of(layout, &st.ids), &st.teacher_text, obj)
        };
        let done = match self.recorded.as_mut() {
            Some(r) if r.fits(micro, &ids, teacher_text) => r.replay(micro, &ids, teacher_text, body),
            Some(_) => return Ok(None),
            None => Recorded::record(self.device, micro, &ids, teacher_text, body, || opt.grads()).map(|(r, parts)| {
                self.recorded = Some(r);
                parts
            }),
        };
        match done {
            Ok(parts) => Ok(Some(parts)),
            Err(why) => {
                self.recorded = None;
                self.graph_failed = Some(why);
                Ok(None)
            }
        }
    }

    /// Whether steps replay a recorded graph of their forward and backward (default: on CUDA).
    pub fn set_step_graph(&mut self, graph: StepGraph) {
        self.graph = graph;
        self.recorded = None;
        self.graph_failed = None;
    }

    /// How steps run, in words: "eager", "not recorded yet", "replaying a CUDA graph", "eager replay of the
    /// recorded step (no CUDA)", or why graphs stood aside.
    pub fn step_graph_status(&self) -> String {
        match (self.graph, &self.recorded, &self.graph_failed) {
            (StepGraph::Off, _, _) => "eager".into(),
            (_, _, Some(why)) => format!("eager: the CUDA graph stood aside ({why})"),
            (_, Some(r), _) if r.is_graph() => "replaying a CUDA graph".into(),
            (_, Some(_), _) => "eager replay of the recorded step (no CUDA)".into(),
            (_, None, _) => "not recorded yet".into(),
        }
    }

    /// CLIP pretraining's step: the captions of each micro-batch's clips, symmetric InfoNCE (crate::contrastive).
    fn contrastive_step(&mut self, micro: &[Clips], lr: f64) -> Result<LossParts> {
        self.opt.zero_grad();
        let mut parts = Tensor::zeros([4], (Kind::Float, self.device));
        for m in micro {
            let p = crate::contrastive::accumulate(
                &self.student,
                self.prompts.tokenizer(),
                self.prompts.classes(),
                &m.video,
                &m.labels,
                micro.len(),
            )?;
            parts += p / micro.len() as f64;
        }
        self.apply(&parts, lr)
    }

    /// The end of every step, whatever the objective: gradients and loss parts (on the device) averaged over the
    /// ranks, then clipping and AdamW unless the loss is not finite.
    fn apply(&mut self, parts: &Tensor, lr: f64) -> Result<LossParts> {
        self.world.average(&self.opt.grads())?;
        self.world.average(std::slice::from_ref(parts))?;
        profile::mark("gradient all-reduce");
        let parts = LossParts::from_tensor(parts);
        if parts.is_finite() {
            let _ = self.opt.clip_grad_norm(self.clip_grad_norm);
            self.opt.step(lr)?;
        }
        profile::mark("clip and AdamW");
        Ok(parts)
    }

    /// The teacher's raw text features [2, C, D] for `template` and the bare names, cached per template.
    fn teacher_text(&mut self, template: usize) -> Result<Tensor> {
        let mut per = Vec::with_capacity(2);
        for t in [template, BARE] {
            let ids = self.prompts.template(t)?;
            per.push(self.teacher.template_features(t, || Ok(ids))?);
        }
        Ok(Tensor::stack(&per, 0))
    }

    /// The model state (`model.*`, `projector_*`), f32 on the CPU: the reference's `model_state`.
    pub fn model_state(&self) -> Weights {
        weights::snapshot(&self.vs)
    }

    /// The model state plus the AdamW moments (`optim.*`): a resume point's tensors.
    pub fn resume_state(&self) -> Weights {
        let mut state = self.model_state();
        for (k, v) in self.opt.state() {
            state.insert(optim_key(&k), v.detach().to_device(Device::Cpu));
        }
        state
    }

    /// Restores a resume point written by [`Learner::resume_state`] after `adam_steps` steps.
    pub fn load_resume(&mut self, w: &Weights, adam_steps: i64) -> Result<()> {
        weights::apply(&self.vs, w, "")?;
        self.opt.load_state(&optim_state(w), adam_steps)
    }

    /// The parameters' gradients (as the last step left them), in the order every rank uses.
    pub fn gradients(&self) -> Vec<Tensor> {
        self.opt.grads()
    }

    /// CLIP's ops in both towers of the student and the teacher (default: [`ops`] of whether the device is CUDA,
    /// where QuickGELU is one kernel each way and the fused ops keep less for backward).
    pub fn set_ops(&mut self, ops: Ops) {
        self.student.clip.set_ops(ops);
        self.teacher.clip.set_ops(ops);
        self.recorded = None; // recorded with the other ops
    }

    /// Whether the student's prompts run packed end to end (default: on; the same values,
    /// [`froster_model::PackedLayout`]) or padded to the longest prompt of all templates.
    pub fn set_packed_text(&mut self, on: bool) {
        self.packed_text = on;
        self.recorded = None;
    }

    /// Whether both models' towers run their last block past its attention on the pooled token only (default:
    /// on; the same values, [`froster_model::Transformer::set_pooled_last_block`]).
    pub fn set_pooled_last_block(&mut self, on: bool) {
        self.student.clip.set_pooled_last_block(on);
        self.teacher.clip.set_pooled_last_block(on);
        self.recorded = None;
    }

    /// Chooses the fused multi-tensor AdamW and foreach gradient norm (default: on CUDA) or the per-tensor loop.
    pub fn set_fused_optimizer(&mut self, fused: bool) {
        self.opt.set_fused(fused);
    }

    /// AdamW steps taken.
    pub fn adam_steps(&self) -> i64 {
        self.opt.steps()
    }

    /// The training classes' names.
    pub fn classes(&self) -> &[String] {
        self.prompts.classes()
    }

    /// The student.
    pub fn student(&self) -> &Student {
        &self.student
    }

    /// The device.
    pub fn device(&self) -> Device {
        self.device
    }
}

/// The prompt template of a step: one of the 28, from a stream keyed by (seed, epoch, iteration), so that a
/// resumed run and the benchmark draw the same ones.
pub fn step_template(seed: u64, epoch: usize, iter: usize) -> usize {
    Rng::keyed(seed, epoch as u64, (1 << 40) + iter as u64).below(NUM_TEMPLATES)
}

/// Gradients of the mean loss over micro-batches, accumulated into the student's `.grad`; returns the mean loss
/// parts. `ids` may be cut to any length holding every EOT. The student's classifier is computed once: the micro-batches see a detached copy, and its accumulated
/// gradient goes back through the text tower in one pass (the backward of sum(cls * g) is the vector-Jacobian
/// product).
pub fn accumulate_gradients(
    student: &Student,
    teacher: &Teacher,
    micro: &[Clips],
    ids: &Tensor,
    teacher_text: &Tensor,
    obj: Objective,
) -> LossParts {
    LossParts::from_tensor(&accumulate_gradient_tensors(student, teacher, micro, Text::Ids(ids), teacher_text, obj))
}

/// The student's prompts of a step: token ids [K*C, L] cut to any length holding every EOT, or packed.
#[derive(Clone, Copy)]
enum Text<'a> {
    Ids(&'a Tensor),
    Packed(PackedLayout, &'a Tensor),
}

impl<'a> Text<'a> {
    /// Packed in `layout`, or ids without one.
    fn of(layout: Option<PackedLayout>, input: &'a Tensor) -> Self {
        layout.map_or(Text::Ids(input), |l| Text::Packed(l, input))
    }
}

/// [`accumulate_gradients`] with the loss parts left on the device as [loss, ce, distill_image, distill_text].
fn accumulate_gradient_tensors(
    student: &Student,
    teacher: &Teacher,
    micro: &[Clips],
    text: Text,
    teacher_text: &Tensor,
    obj: Objective,
) -> Tensor {
    let (k, c) = (teacher_text.size()[0], teacher_text.size()[1]);
    let features = match text {
        Text::Ids(ids) => student.clip.encode_text_cut(ids),
        Text::Packed(layout, data) => student.clip.encode_text_packed(&layout.text(data)),
    };
    let cls = classifier(&features.view([k, c, -1]));
    profile::mark("student text forward");
    let shared = cls.detach().set_requires_grad(true);
    // The loss parts stay on the device: one host sync per optimizer step.
    let mut parts = Tensor::zeros([4], (Kind::Float, teacher_text.device()));
    for m in micro {
        let f = distill::forward_with_classifier(student, teacher, &m.video, &m.labels, &shared, teacher_text, obj);
        (&f.loss / micro.len() as f64).backward();
        profile::mark("losses, then student vision backward");
        let step = Tensor::stack(&[&f.loss, &f.loss_ce, &f.distill_image, &f.distill_text], 0).detach();
        parts += step.to_kind(Kind::Float) / micro.len() as f64;
    }
    (&cls * shared.grad()).sum(Kind::Float).backward();
    profile::mark("student text backward");
    parts
}
