//! The recorded step's plumbing (froster_train::graph), run off the GPU as the eager replay: every step's clips,
//! labels, template ids and teacher text go through the static inputs, and the run equals the plain eager one
//! (loss parts and weights) over steps whose batches and templates all differ. A replay that kept any input of
//! the first step would drift from it. The CUDA capture itself is checked by the GPU script (its first replay is
//! compared with an eager run of the same step there, and graphs stand aside if they differ). Packed prompts step as
//! padded ones do, recorded or not.
use froster_testkit::golden;
use froster_train::distill::Objective;
use froster_train::graph::StepGraph;
use froster_train::input::Clips;
use froster_train::step::{Learner, LearnerSpec, LossParts};
use std::sync::Mutex;
use tch::{Device, Kind, Tensor};

/// Each step's loss parts and gradients (flattened; compared before AdamW, which turns rounding noise in
/// near-zero gradients into whole steps of lr), and the learner's status.
fn run(graph: StepGraph, packed: bool, lr: f64) -> (Vec<LossParts>, Vec<Tensor>, String) {
    // A learner seeds and draws from tch's global RNG, which test threads share: one run at a time.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let case = "froster_student_forward";
    let w = golden::case_weights(case);
    let clip = golden::case_config(case, &w);
    let frames = golden::case_frames(case);
    let classes: Vec<String> = (0..5).map(|i| format!("class {i} of a rather long name number {i}")).collect();
    let spec = LearnerSpec {
        clip: &clip,
        weights: &w,
        frames,
        classes: classes.clone(),
        objective: Objective { alpha: 0.1, ..Default::default() },
        weight_decay: 0.01,
        clip_grad_norm: 1.0,
        compute: None,
        seed: 3,
        device: Device::Cpu,
    };
    let mut learner = Learner::new(spec).unwrap();
    learner.set_step_graph(graph);
    learner.set_packed_text(packed);
    let r = clip.image_resolution as i64;
    let (mut parts, mut grads) = (Vec::new(), Vec::new());
    for step in 0..4i64 {
        // Deterministic, different clips and labels each step (no global RNG: tests run in parallel).
        let n = 2 * frames * 3 * r * r;
        let video = (Tensor::arange(n, (Kind::Float, Device::Cpu)) * (0.37 + step as f64 * 0.11)).sin();
        let labels = Tensor::from_slice(&[step % 5, (step + 2) % 5]);
        let micro = [Clips { video: video.view([2, frames, 3, r, r]), labels }];
        parts.push(learner.step(&micro, [5, 0, 27, 5][step as usize], lr).unwrap());
        let flat: Vec<Tensor> = learner.gradients().iter().map(|g| g.flatten(0, -1)).collect();
        grads.push(Tensor::cat(&flat, 0));
    }
    (parts, grads, learner.step_graph_status())
}

/// Loss parts within 1e-5 and gradients within 1e-4 (relative, by norm) at every step.
fn assert_alike(eager: &[LossParts], g_eager: &[Tensor], replayed: &[LossParts], g_replayed: &[Tensor]) {
    for (i, (a, b)) in eager.iter().zip(replayed).enumerate() {
        let (x, y) = ([a.loss, a.ce, a.distill_image, a.distill_text], [b.loss, b.ce, b.distill_image, b.distill_text]);
        for (p, q) in x.iter().zip(&y) {
            assert!((p - q).abs() <= 1e-5 * p.abs().max(1.0), "step {i}: {a:?} vs {b:?}");
        }
    }
    for (i, (a, b)) in g_eager.iter().zip(g_replayed).enumerate() {
        let rel = (a - b).norm().double_value(&[]) / a.norm().double_value(&[]);
        assert!(rel <= 1e-4, "step {i}: gradients differ by {rel:e} (relative, by norm)");
    }
}

#[test]
fn the_recorded_step_replays_every_steps_inputs() {
    let (eager, g_eager, s_eager) = run(StepGraph::Off, true, 1e-3);
    let (replayed, g_replayed, s_replayed) = run(StepGraph::On, true, 1e-3);
    assert_eq!(s_eager, "eager");
    assert_eq!(s_replayed, "eager replay of the recorded step (no CUDA)");
    assert_alike(&eager, &g_eager, &replayed, &g_replayed);
    // The steps differ from each other: an input left over from the first step would show.
    assert!(eager.windows(2).all(|p| (p[0].loss - p[1].loss).abs() > 1e-4), "{eager:?}");
}

#[test]
fn packed_prompts_step_as_padded_ones_do() {
    // Learning rate 0: the same weights at every step (AdamW would turn the two layouts' rounding noise in
    // near-zero gradients into whole steps of lr), while inputs and templates change.
    let (padded, g_padded, _) = run(StepGraph::Off, false, 0.0);
    let (packed, g_packed, _) = run(StepGraph::Off, true, 0.0);
    assert_alike(&padded, &g_padded, &packed, &g_packed);
    let (replayed, g_replayed, _) = run(StepGraph::On, false, 0.0);
    assert_alike(&padded, &g_padded, &replayed, &g_replayed);
}
