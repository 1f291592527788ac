//! Golden cases `eval_multiview` and `weight_average`.
use froster_model::Tokenizer;
use froster_testkit::golden::{self, assert_close, assert_equal_i64};
use froster_train::build;
use froster_train::eval::{eval_classifier, view_logits, Ensemble};
use tch::{Device, Tensor};

#[test]
fn golden_eval_multiview() {
    let case = "eval_multiview";
    let j = golden::json(&format!("{case}/case.json"));
    let w = golden::case_weights(case);
    let cfg = golden::case_config(case, &w);
    let frames = golden::case_frames(case);
    let (_vs, student) = build::student(&cfg, frames, &w, None, Device::Cpu).unwrap();
    let inp = golden::tensors(&format!("{case}/inputs.safetensors"));
    let out = golden::tensors(&format!("{case}/outputs.safetensors"));
    let classes: Vec<String> =
        j["class_names"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().into()).collect();
    let (per, cls) = eval_classifier(&student.clip, &Tokenizer::new(), &classes, Device::Cpu).unwrap();
    assert_close("text_features_per_template_raw", &per, &out["text_features_per_template_raw"], 1e-5, 1e-4);
    assert_close("classifier", &cls, &out["classifier"], 1e-5, 1e-4);
    let views = golden::reference_video(&inp["views"]);
    let labels: Vec<i64> = Vec::try_from(&inp["labels"]).unwrap();
    let (nv, b) = (views.size()[0], views.size()[1]);
    let mut ens = Ensemble::default();
    let mut per_view = Vec::new();
    for v in 0..nv {
        let logits = view_logits(&student.clip, frames, &views.get(v), &cls);
        ens.add(&logits, &(0..b as usize).collect::<Vec<_>>(), &labels);
        per_view.push(logits);
    }
    assert_close("logits_per_view", &Tensor::stack(&per_view, 0), &out["logits_per_view"], 1e-5, 1e-4);
    let sums: Vec<f32> = ens.sums.values().flat_map(|(s, _, _)| s.clone()).collect();
    let sums = Tensor::from_slice(&sums).view([b, -1]);
    assert_close("video_preds_sum", &sums, &out["video_preds_sum"], 1e-5, 1e-4);
    assert_close("video_preds_mean", &(&sums / nv as f64), &out["video_preds_mean"], 1e-5, 1e-4);
    let pred: Vec<i64> = ens.sums.values().map(|(s, _, _)| Ensemble::topk(s, 1)[0] as i64).collect();
    assert_equal_i64("predicted_class", &Tensor::from_slice(&pred), &out["predicted_class"]);
    let correct: Vec<i64> = pred.iter().zip(&labels).map(|(p, l)| (p == l) as i64).collect();
    assert_equal_i64("top1_correct", &Tensor::from_slice(&correct), &out["top1_correct"]);
}
