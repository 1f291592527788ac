//! The step's forward and backward recorded once as a CUDA graph (froster-shim's [`CudaGraph`]) and replayed at
//! every later step: one launch instead of thousands, each of which costs the CPU microseconds (the last GPU run's
//! ViT-B/16 step times at batches 8, 16 and 32 fit about 66 ms per step plus 5.2 ms per clip; launches are a
//! likely share of that fixed part). A graph replays fixed memory, so the step reads its inputs from [`Statics`]
//! that every step copies into; text runs packed in one layout that fits every template's prompts, and nothing
//! in the recorded work waits for the device. Gradient all-reduce, clipping and AdamW stay eager: they are a few
//! multi-tensor kernels, and the step's loss decides whether AdamW runs.
//!
//! Where the device is not CUDA, the same plumbing runs with an eager "replay" (the body run again on the
//! statics): what the tests and the GPU script's CPU dry run check.
use crate::input::Clips;
use froster_shim::CudaGraph;
use tch::{Device, Kind, Tensor};

/// Whether [`crate::step::Learner::step`] replays a recorded graph of its forward and backward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepGraph {
    /// Every op launched from the CPU at every step.
    Off,
    /// Recorded at the first step (after eager runs of it on the same inputs, which its first replay must
    /// match, or graphs stand aside for the run) and replayed after. Off the GPU: the eager replay.
    On,
}

/// One step's inputs in fixed memory: a replay reads whatever they hold.
pub struct Statics {
    /// The micro-batches' clips and labels.
    pub micro: Vec<Clips>,
    /// The student's prompts, packed in one layout for every template (froster_model::PackedLayout).
    pub ids: Tensor,
    /// The teacher's text features [K, C, D] of the same prompts.
    pub teacher_text: Tensor,
}

impl Statics {
    fn copy_of(micro: &[Clips], ids: &Tensor, teacher_text: &Tensor) -> Statics {
        let clips = micro.iter().map(|m| Clips { video: m.video.copy(), labels: m.labels.copy() }).collect();
        Statics { micro: clips, ids: ids.copy(), teacher_text: teacher_text.copy() }
    }

    /// Whether these inputs have the recorded shapes and dtypes (a replay cannot take others).
    fn fits(&self, micro: &[Clips], ids: &Tensor, teacher_text: &Tensor) -> bool {
        let same = |a: &Tensor, b: &Tensor| a.size() == b.size() && a.kind() == b.kind() && a.device() == b.device();
        self.micro.len() == micro.len()
            && self.micro.iter().zip(micro).all(|(s, m)| same(&s.video, &m.video) && same(&s.labels, &m.labels))
            && same(&self.ids, ids)
            && same(&self.teacher_text, teacher_text)
    }

    fn load(&mut self, micro: &[Clips], ids: &Tensor, teacher_text: &Tensor) {
        tch::no_grad(|| {
            for (s, m) in self.micro.iter_mut().zip(micro) {
                s.video.copy_(&m.video);
                s.labels.copy_(&m.labels);
            }
            self.ids.copy_(ids);
            self.teacher_text.copy_(teacher_text);
        });
    }
}

/// A recorded step: its graph (None off CUDA), the statics it reads and the loss parts it writes.
pub struct Recorded {
    graph: Option<CudaGraph>,
    statics: Statics,
    parts: Tensor,
}

impl Recorded {
    /// Records `body` (zero the gradients, forward, backward; returns the loss parts) over copies of the inputs.
    /// It is run eagerly first, then recorded and replayed once; the replay's loss parts and per-parameter gradient
    /// norms (`grads`) must match the eager run's. Returns the recording and the replay's loss parts (the
    /// gradients hold that step); Err says why not, and the gradients then hold no step.
    pub fn record(
        device: Device,
        micro: &[Clips],
        ids: &Tensor,
        teacher_text: &Tensor,
        body: impl Fn(&Statics) -> Tensor,
        grads: impl Fn() -> Vec<Tensor>,
    ) -> Result<(Recorded, Tensor), String> {
        let statics = Statics::copy_of(micro, ids, teacher_text);
        let words = |e: froster_shim::Error| e.to_string();
        let mut graph = match device {
            Device::Cuda(i) => Some(CudaGraph::new(i).map_err(words)?),
            _ => None,
        };
        let eager = |g: &mut Option<CudaGraph>| match g {
            Some(g) => g.on_stream(|| (body(&statics), norms(&grads()))).map_err(words),
            None => Ok((body(&statics), norms(&grads()))),
        };
        // On CUDA twice: the first run makes the stream's library handles and loads the kernels (which check
        // themselves, waiting for the device: never while recording).
        if graph.is_some() {
            let _ = eager(&mut graph)?;
        }
        let (want_parts, want_norms) = eager(&mut graph)?;
        let parts = match graph.as_mut() {
            Some(g) => g.capture(|| body(&statics)).map_err(words)?,
            None => Tensor::new(),
        };
        let mut rec = Recorded { graph, statics, parts };
        let got_parts = rec.replay_recorded(&body)?;
        check("the loss parts", &got_parts, &want_parts, 1e-3)?;
        check("the gradient norms", &norms(&grads()), &want_norms, 2e-2)?;
        Ok((rec, got_parts))
    }

    /// Whether the step's inputs can be replayed (the same shapes as recorded).
    pub fn fits(&self, micro: &[Clips], ids: &Tensor, teacher_text: &Tensor) -> bool {
        self.statics.fits(micro, ids, teacher_text)
    }

    /// The step on these inputs: copied into the statics, then replayed; the loss parts [4] on the device.
    pub fn replay(
        &mut self,
        micro: &[Clips],
        ids: &Tensor,
        teacher_text: &Tensor,
        body: impl Fn(&Statics) -> Tensor,
    ) -> Result<Tensor, String> {
        self.statics.load(micro, ids, teacher_text);
        self.replay_recorded(&body)
    }

    fn replay_recorded(&mut self, body: &impl Fn(&Statics) -> Tensor) -> Result<Tensor, String> {
        match self.graph.as_mut() {
            Some(g) => g.replay().map(|_| self.parts.copy()).map_err(|e| e.to_string()),
            None => Ok(body(&self.statics)),
        }
    }

    /// Whether this is a CUDA graph (not the eager replay).
    pub fn is_graph(&self) -> bool {
        self.graph.is_some()
    }
}

/// Per-tensor L2 norms, on the CPU as f64 (the gradients' fingerprint).
fn norms(grads: &[Tensor]) -> Tensor {
    let n: Vec<Tensor> = grads.iter().map(|g| g.detach().to_kind(Kind::Double).norm()).collect();
    match n.is_empty() {
        true => Tensor::zeros([0], (Kind::Double, Device::Cpu)),
        false => Tensor::stack(&n, 0).to_device(Device::Cpu),
    }
}

/// `got` within `rel` of `want` elementwise (relative to the larger magnitude, at least 1e-4 of `want`'s largest).
fn check(what: &str, got: &Tensor, want: &Tensor, rel: f64) -> Result<(), String> {
    let (g, w) = (got.to_kind(Kind::Double).to_device(Device::Cpu), want.to_kind(Kind::Double).to_device(Device::Cpu));
    if g.size() != w.size() {
        return Err(format!("the replay's {what} have another shape ({:?}, not {:?})", g.size(), w.size()));
    }
    if w.numel() == 0 {
        return Ok(());
    }
    // Relative to each value, but never to less than 1e-4 of the largest: a parameter whose gradient is nearly
    // zero differs by summation-order noise only (atomics in some backward kernels); a stale or unwritten gradient
    // is off by far more.
    let floor = (w.abs().max().double_value(&[]) * 1e-4).max(1e-12);
    let scale = g.abs().maximum(&w.abs()).clamp_min(floor);
    let worst = ((&g - &w).abs() / scale).max().double_value(&[]);
    if worst.is_nan() || worst > rel {
        return Err(format!(
            "the replay's {what} differ from the eager step's (worst relative difference {worst:.2e})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f64]) -> Tensor {
        Tensor::from_slice(v)
    }

    #[test]
    fn the_replay_check_takes_noise_and_refuses_wrong_values() {
        assert!(check("norms", &t(&[1.0, 2.0]), &t(&[1.0, 2.0]), 1e-3).is_ok());
        // Summation-order noise on a nearly-zero gradient passes; a wrong or stale one does not.
        assert!(check("norms", &t(&[1.0, 1e-7]), &t(&[1.0, 2e-7]), 2e-2).is_ok());
        let e = check("norms", &t(&[1.0, 2.5]), &t(&[1.0, 2.0]), 2e-2).unwrap_err();
        assert!(e.contains("the replay's norms differ") && e.contains("2.00e-1"), "{e}");
        assert!(check("norms", &t(&[1.0, 0.0]), &t(&[1.0, 0.5]), 2e-2).is_err());
        assert!(check("parts", &t(&[f64::NAN]), &t(&[1.0]), 1e-3).is_err());
        assert!(check("parts", &t(&[1.0]), &t(&[1.0, 2.0]), 1e-3).unwrap_err().contains("another shape"));
        assert!(check("norms", &t(&[]), &t(&[]), 1e-3).is_ok());
    }
}
