//! Golden cases `eval_multiview` and `weight_average`.
use froster_model::golden::{self, assert_close, assert_equal_i64};
use froster_model::weights::Weights;
use froster_model::Tokenizer;
use froster_train::average::{average, checkpoint_id};
use froster_train::build;
use froster_train::eval::{eval_classifier, view_logits, Ensemble};
use tch::{Device, Kind, Tensor};

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
    let views = &inp["views"];
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

#[test]
fn golden_weight_average() {
    let j = golden::json("weight_average/weight_average.json");
    let dir = golden::dir().join("weight_average");
    let raw: Weights = golden::tensors("weight_average/raw_clip.safetensors");
    let mut ckpts = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().to_string();
        if name.starts_with("checkpoint_epoch_") {
            ckpts.push((checkpoint_id(&name).unwrap(), golden::tensors(&format!("weight_average/{name}"))));
        }
    }
    ckpts.sort_by_key(|(id, _)| *id);
    let ids: Vec<i64> = ckpts.iter().map(|(i, _)| *i).collect();
    let want_ids: Vec<i64> = j["checkpoint_ids"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
    assert_eq!(ids, want_ids);
    let (s, e) = (j["wa_start"].as_i64().unwrap(), j["wa_end"].as_i64().unwrap());
    let got = average(&raw, &ckpts, s, e).unwrap();
    let want = golden::tensors("weight_average/swa_2_22.safetensors");
    let mut gk: Vec<_> = got.keys().cloned().collect();
    let mut wk: Vec<_> = want.keys().cloned().collect();
    gk.sort();
    wk.sort();
    assert_eq!(gk, wk, "averaged keys");
    for (k, w) in &want {
        assert_close(k, &got[k], &w.to_kind(Kind::Float), 0.0, 1e-6);
    }
}
