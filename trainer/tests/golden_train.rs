//! Golden cases `froster_student_forward` (both projector variants) and `lr_schedule`.
use froster_model::weights::Weights;
use froster_model::Tokenizer;
use froster_model::{prompt_ids, BARE, CONTEXT};
use froster_testkit::golden::{self, assert_close, assert_equal_i64};
use froster_train::{build, distill, lr::LrSchedule};
use tch::{Device, Kind, Tensor};

/// The objective's weights of a case (distillation ratio and projector alpha).
fn objective(j: &serde_json::Value) -> distill::Objective {
    let h = &j["hyperparameters"];
    distill::Objective {
        distillation_ratio: h["distillation_ratio"].as_f64().unwrap(),
        alpha: h["alpha"].as_f64().unwrap(),
        contrastive: false,
    }
}

fn check_variant(variant: &str) {
    let case = "froster_student_forward";
    let j = golden::json(&format!("{case}/case.json"));
    let clip_w = golden::case_weights(case);
    let cfg = golden::case_config(case, &clip_w);
    let frames = golden::case_frames(case);
    let proj: Weights = golden::tensors(&format!("{case}/{variant}/projector.safetensors"));
    let inp = golden::tensors(&format!("{case}/inputs.safetensors"));
    let out = golden::tensors(&format!("{case}/{variant}/outputs.safetensors"));
    let (vs, student) = build::student(&cfg, frames, &clip_w, Some(&proj), Device::Cpu).unwrap();
    let mut teacher = build::teacher(&cfg, &clip_w, Device::Cpu).unwrap();
    let classes: Vec<String> =
        j["class_names"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().into()).collect();
    let template = j["template_index"].as_u64().unwrap() as usize;
    let obj = objective(&j);
    let tok = Tokenizer::new();
    let ids = prompt_ids(&tok, &[template, BARE], &classes, CONTEXT).unwrap();
    assert_equal_i64("token_ids", &ids, &out["token_ids"]);
    let mut per_t = Vec::new();
    for t in [template, BARE] {
        per_t.push(teacher.template_features(t, || prompt_ids(&tok, &[t], &classes, CONTEXT)).unwrap());
    }
    let teacher_text = Tensor::stack(&per_t, 0);
    let f = distill::forward(
        &student,
        &teacher,
        &golden::reference_video(&inp["video"]),
        &inp["labels"],
        &ids,
        &teacher_text,
        obj,
    );
    let fw = |name: &str, got: &Tensor| assert_close(&format!("{variant}/{name}"), got, &out[name], 1e-5, 1e-4);
    fw("student_image_features_raw", &f.student_image);
    fw("student_text_features_per_template_raw", &f.student_text_per_template);
    fw("classifier", &f.classifier);
    fw("logits_per_frame", &f.logits_per_frame);
    fw("logits", &f.logits);
    fw("student_image_features_projected", &f.image_projected);
    fw("student_text_features_projected", &f.text_projected);
    fw("teacher_image_features", &f.teacher_image);
    fw("teacher_text_features_per_template_raw", &teacher_text);
    fw("teacher_classifier", &f.teacher_classifier);
    fw("loss_ce", &f.loss_ce);
    fw("distill_loss_image", &f.distill_image);
    fw("loss_total", &f.loss);
    let dtext = &out["distill_loss_text"];
    if variant == "zero_proj" {
        assert_close("zero_proj/distill_loss_text", &f.distill_text, dtext, 1e-6, 0.0);
    } else {
        fw("distill_loss_text", &f.distill_text);
    }
    fw("distill_loss", &(&f.distill_image + &f.distill_text));
    f.loss.backward();
    let vars = vs.variables();
    let mut sq = 0.0;
    for (_, v) in vars.iter() {
        let g = v.grad();
        if g.defined() {
            sq += g.to_kind(Kind::Double).pow_tensor_scalar(2).sum(Kind::Double).double_value(&[]);
        }
    }
    assert_close(&format!("{variant}/grad_norm_total"), &Tensor::from(sq.sqrt()), &out["grad_norm_total"], 1e-5, 1e-4);
    let mut checked = 0;
    for (key, want) in out.iter().filter(|(k, _)| k.starts_with("grad.") && !k.starts_with("grad.token_embedding")) {
        let name = key.trim_start_matches("grad.");
        let var = if name.starts_with("projector_") { name.to_string() } else { format!("model.{name}") };
        let got = vars.get(&var).unwrap_or_else(|| panic!("no variable {var}")).grad();
        let noise = variant == "zero_proj" && name == "projector_t.2.weight";
        let (atol, rtol) = if noise { (1e-6, 0.0) } else { (1e-6, 1e-4) };
        assert_close(&format!("{variant}/{key}"), &got, want, atol, rtol);
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} gradients checked");
    let emb = vars["model.token_embedding.weight"].grad();
    let used = &out["grad.token_embedding.used_ids"];
    assert_close(
        &format!("{variant}/grad.token_embedding rows"),
        &emb.index_select(0, used),
        &out["grad.token_embedding.used_rows"],
        1e-6,
        1e-4,
    );
    // Every row outside the listed ones is exactly zero.
    let outside = emb.index_fill(0, used, 0.0).abs().max().double_value(&[]);
    assert_eq!(outside, 0.0, "{variant}: token-embedding gradient outside used_ids");
}

#[test]
fn golden_froster_student_forward_zero_proj() {
    check_variant("zero_proj");
}

#[test]
fn golden_froster_student_forward_random_proj() {
    check_variant("random_proj");
}

#[test]
fn golden_lr_schedule() {
    let j = golden::json("lr_schedule/lr_schedule.json");
    let mut n = 0;
    for (name, case) in j["cases"].as_object().unwrap() {
        let c = &case["config"];
        let s = LrSchedule {
            base_lr: c["BASE_LR"].as_f64().unwrap(),
            warmup_start_lr: c["WARMUP_START_LR"].as_f64().unwrap(),
            cosine_end_lr: c["COSINE_END_LR"].as_f64().unwrap(),
            warmup_epochs: c["WARMUP_EPOCHS"].as_f64().unwrap(),
            max_epoch: c["MAX_EPOCH"].as_f64().unwrap(),
            cosine_after_warmup: c["COSINE_AFTER_WARMUP"].as_bool().unwrap(),
        };
        let close = |got: f64, want: f64, what: String| {
            assert!((got - want).abs() <= 1e-12 * want.abs(), "{what}: {got} vs {want}")
        };
        for g in case["grid"].as_array().unwrap() {
            close(
                s.at(g["epoch"].as_f64().unwrap()),
                g["lr"].as_f64().unwrap(),
                format!("{name} epoch {}", g["epoch"]),
            );
            n += 1;
        }
        if let Some(p) = case.get("per_iteration_example") {
            let iters = p["iters_per_epoch"].as_u64().unwrap() as usize;
            for v in p["values"].as_array().unwrap() {
                let (e, i) = (v["cur_epoch"].as_u64().unwrap() as usize, v["cur_iter"].as_u64().unwrap() as usize);
                close(s.at_iter(e, i, iters), v["lr"].as_f64().unwrap(), format!("{name} iter {e}/{i}"));
                n += 1;
            }
        }
    }
    assert!(n > 0);
}

/// The bf16 compute path (f32 master weights) on the golden case: CUDA when present (with froster-train's fused
/// ops there), else CPU.
#[test]
fn golden_froster_student_forward_bf16() {
    let case = "froster_student_forward";
    let device = tch::Device::cuda_if_available();
    let j = golden::json(&format!("{case}/case.json"));
    let clip_w = golden::case_weights(case);
    let cfg = golden::case_config(case, &clip_w);
    let proj: Weights = golden::tensors(&format!("{case}/random_proj/projector.safetensors"));
    let inp = golden::tensors(&format!("{case}/inputs.safetensors"));
    let out = golden::tensors(&format!("{case}/random_proj/outputs.safetensors"));
    let (_vs, mut student) = build::student(&cfg, golden::case_frames(case), &clip_w, Some(&proj), device).unwrap();
    let mut teacher = build::teacher(&cfg, &clip_w, device).unwrap();
    student.clip.set_compute(Some(Kind::BFloat16));
    teacher.clip.set_compute(Some(Kind::BFloat16));
    // The ops froster-train runs there: on CUDA the fused ones (kernels, the temporal attention op), so the GPU
    // script checks them against the reference too; eager on the CPU.
    let ops = froster_train::step::ops(device.is_cuda());
    student.clip.set_ops(ops);
    teacher.clip.set_ops(ops);
    let classes: Vec<String> =
        j["class_names"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().into()).collect();
    let template = j["template_index"].as_u64().unwrap() as usize;
    let tok = Tokenizer::new();
    let ids = prompt_ids(&tok, &[template, BARE], &classes, CONTEXT).unwrap().to_device(device);
    let per_t: Vec<Tensor> = [template, BARE]
        .iter()
        .map(|&t| teacher.template_features(t, || prompt_ids(&tok, &[t], &classes, CONTEXT)).unwrap())
        .collect();
    let teacher_text = Tensor::stack(&per_t, 0);
    let video = golden::reference_video(&inp["video"]).to_device(device);
    let labels = inp["labels"].to_device(device);
    let f = distill::forward(&student, &teacher, &video, &labels, &ids, &teacher_text, objective(&j));
    for (name, got) in [
        ("student_image_features", froster_model::l2n(&f.student_image)),
        ("classifier", f.classifier.shallow_clone()),
        ("logits", f.logits.shallow_clone()),
        ("loss_ce", f.loss_ce.shallow_clone()),
        ("loss_total", f.loss.shallow_clone()),
    ] {
        assert_norm_close(&format!("bf16/{name}"), &got.to_device(Device::Cpu), &out[name], 2e-2);
    }
    for name in ["distill_loss_image", "distill_loss_text"] {
        let got = if name.ends_with("image") { &f.distill_image } else { &f.distill_text };
        assert_close(&format!("bf16/{name}"), &got.to_device(Device::Cpu), &out[name], 2e-2, 0.0);
    }
    f.loss.backward();
}

/// bf16 against the reference's f32 by norm, ||got - want|| / ||want|| < tol: rounding spreads over all elements,
/// so an element-wise bound fails on correct maths (a held-out case exceeded max-abs by 7%).
fn assert_norm_close(name: &str, got: &Tensor, want: &Tensor, tol: f64) {
    let (got, want) = (got.to_kind(tch::Kind::Double), want.to_kind(tch::Kind::Double));
    assert_eq!(got.size(), want.size(), "{name}: shape");
    let rel = (&got - &want).norm().double_value(&[]) / want.norm().double_value(&[]).max(1e-12);
    assert!(rel < tol, "{name}: relative error by norm {rel:.3e} >= {tol:e}");
}
