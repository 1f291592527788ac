//! Gradient accumulation with the classifier shared between micro-batches gives the gradients of the plain
//! per-micro-batch computation (text tower run for every micro-batch), on the golden weights.
use froster_model::weights::Weights;
use froster_model::Tokenizer;
use froster_model::{prompt_ids, BARE, CONTEXT};
use froster_testkit::golden;
use froster_train::input::Clips;
use froster_train::step::accumulate_gradients;
use froster_train::{build, distill};
use tch::{Device, Kind, Tensor};

#[test]
fn shared_classifier_accumulation_matches_per_micro_batch_text() {
    let case = "froster_student_forward";
    let j = golden::json(&format!("{case}/case.json"));
    let clip_w = golden::case_weights(case);
    let cfg = golden::case_config(case, &clip_w);
    let proj: Weights = golden::tensors(&format!("{case}/random_proj/projector.safetensors"));
    let inp = golden::tensors(&format!("{case}/inputs.safetensors"));
    let classes: Vec<String> =
        j["class_names"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().into()).collect();
    let tok = Tokenizer::new();
    let ids = prompt_ids(&tok, &[3, BARE], &classes, CONTEXT).unwrap();
    let (video, labels) = (&golden::reference_video(&inp["video"]), &inp["labels"]);
    let b = video.size()[0];
    let micro: Vec<Clips> =
        (0..b).map(|i| Clips { video: video.narrow(0, i, 1), labels: labels.narrow(0, i, 1) }).collect();
    let grads = |shared: bool| {
        let (vs, student) = build::student(&cfg, golden::case_frames(case), &clip_w, Some(&proj), Device::Cpu).unwrap();
        let mut teacher = build::teacher(&cfg, &clip_w, Device::Cpu).unwrap();
        let per_t: Vec<Tensor> = [3, BARE]
            .iter()
            .map(|&t| teacher.template_features(t, || prompt_ids(&tok, &[t], &classes, CONTEXT)).unwrap())
            .collect();
        let tt = Tensor::stack(&per_t, 0);
        if shared {
            accumulate_gradients(&student, &teacher, &micro, &ids, &tt, Default::default());
        } else {
            for m in &micro {
                let f = distill::forward(&student, &teacher, &m.video, &m.labels, &ids, &tt, Default::default());
                (f.loss / micro.len() as f64).backward();
            }
        }
        vs.variables().into_iter().map(|(k, v)| (k, v.grad().copy())).collect::<std::collections::BTreeMap<_, _>>()
    };
    let (a, s) = (grads(false), grads(true));
    assert!(a.len() > 30);
    for (k, g) in &a {
        let err = (g - &s[k]).abs().max().double_value(&[]);
        let scale = g.abs().max().double_value(&[]);
        assert!(err <= 1e-6 + 1e-4 * scale, "{k}: {err:.3e} (max |g| {scale:.3e})");
    }
    let text = &a["model.transformer.resblocks.0.attn.in_proj_weight"];
    assert!(text.abs().sum(Kind::Float).double_value(&[]) > 0.0, "the text tower gets gradients");
}
