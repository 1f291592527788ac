//! The recorded step's plumbing (froster_train::graph), run off the GPU as the eager replay: every step's clips,
//! labels, template ids and teacher text go through the static inputs, and the run equals the plain eager one
//! (loss parts and weights) over steps whose batches and templates all differ. A replay that kept any input of
//! the first step would drift from it. The CUDA capture itself is checked by the GPU script (its first replay is
//! compared with an eager run of the same step there, and graphs stand aside if they differ).
use froster_testkit::golden;
use froster_train::distill::Objective;
use froster_train::graph::StepGraph;
use froster_train::input::Clips;
use froster_train::step::{Learner, LearnerSpec, LossParts};
use tch::{Device, Kind, Tensor};

/// Each step's loss parts and gradients (flattened; compared before AdamW, which turns rounding noise in
/// near-zero gradients into whole steps of lr), and the learner's status.
fn run(graph: StepGraph) -> (Vec<LossParts>, Vec<Tensor>, String) {
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
    let r = clip.image_resolution as i64;
    let (mut parts, mut grads) = (Vec::new(), Vec::new());
    for step in 0..4i64 {
        // Deterministic, different clips and labels each step (no global RNG: tests run in parallel).
        let n = 2 * frames * 3 * r * r;
        let video = (Tensor::arange(n, (Kind::Float, Device::Cpu)) * (0.37 + step as f64 * 0.11)).sin();
        let labels = Tensor::from_slice(&[step % 5, (step + 2) % 5]);
        let micro = [Clips { video: video.view([2, frames, 3, r, r]), labels }];
        parts.push(learner.step(&micro, [5, 0, 27, 5][step as usize], 1e-3).unwrap());
        let flat: Vec<Tensor> = learner.gradients().iter().map(|g| g.flatten(0, -1)).collect();
        grads.push(Tensor::cat(&flat, 0));
    }
    (parts, grads, learner.step_graph_status())
}

#[test]
fn the_recorded_step_replays_every_steps_inputs() {
    let (eager, g_eager, s_eager) = run(StepGraph::Off);
    let (replayed, g_replayed, s_replayed) = run(StepGraph::On);
    assert_eq!(s_eager, "eager");
    assert_eq!(s_replayed, "eager replay of the recorded step (no CUDA)");
    for (i, (a, b)) in eager.iter().zip(&replayed).enumerate() {
        let (x, y) = ([a.loss, a.ce, a.distill_image, a.distill_text], [b.loss, b.ce, b.distill_image, b.distill_text]);
        for (p, q) in x.iter().zip(&y) {
            assert!((p - q).abs() <= 1e-5 * p.abs().max(1.0), "step {i}: {a:?} vs {b:?}");
        }
    }
    for (i, (a, b)) in g_eager.iter().zip(&g_replayed).enumerate() {
        let rel = (a - b).norm().double_value(&[]) / a.norm().double_value(&[]);
        assert!(rel <= 1e-4, "step {i}: gradients differ by {rel:e} (relative, by norm)");
    }
    // The steps differ from each other: an input left over from the first step would show.
    assert!(eager.windows(2).all(|p| (p[0].loss - p[1].loss).abs() > 1e-4), "{eager:?}");
}
