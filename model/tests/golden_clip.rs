//! Golden cases `clip_teacher` and `tokenizer` (see ../shared/golden/README.md).
use froster_model::{l2n, weights, Clip, Tokenizer};
use froster_testkit::golden::{self, assert_close, assert_equal_i64};
use tch::{nn, Device, Tensor};

fn teacher(case: &str) -> (nn::VarStore, Clip) {
    let w = golden::case_weights(case);
    let cfg = golden::case_config(case, &w);
    let vs = nn::VarStore::new(Device::Cpu);
    let clip = Clip::new(&vs.root(), &cfg);
    weights::apply(&vs, &w, "").unwrap();
    (vs, clip)
}

#[test]
fn golden_clip_teacher() {
    let case = "clip_teacher";
    let (_vs, clip) = teacher(case);
    let inp = golden::tensors(&format!("{case}/inputs.safetensors"));
    let out = golden::tensors(&format!("{case}/outputs.safetensors"));
    let j = golden::json(&format!("{case}/case.json"));
    let tok = Tokenizer::new();
    let prompts: Vec<String> =
        j["prompts"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect();
    let ids: Vec<i64> = prompts.iter().flat_map(|p| tok.tokenize(p, 77).unwrap()).collect();
    let ids = Tensor::from_slice(&ids).view([prompts.len() as i64, 77]);
    assert_equal_i64("token_ids", &ids, &inp["token_ids"]);
    tch::no_grad(|| {
        let img = clip.encode_image(&inp["images"], None);
        let txt = clip.encode_text(&inp["token_ids"]);
        let f = |k: &str| &out[k];
        assert_close("image_features", &img, f("image_features"), 1e-5, 1e-4);
        assert_close("image_features_normalized", &l2n(&img), f("image_features_normalized"), 1e-5, 1e-4);
        assert_close("text_features", &txt, f("text_features"), 1e-5, 1e-4);
        assert_close("text_features_normalized", &l2n(&txt), f("text_features_normalized"), 1e-5, 1e-4);
        assert_close("logit_scale", &clip.logit_scale, f("logit_scale"), 1e-7, 0.0);
        let logits = l2n(&img).matmul(&l2n(&txt).tr()) * clip.logit_scale.exp();
        assert_close("logits_per_image", &logits, f("logits_per_image"), 1e-5, 1e-4);
        assert_equal_i64("eot_positions", &inp["token_ids"].argmax(-1, false), f("eot_positions"));
        let ln_pre = clip.visual.embed(&inp["images"]);
        assert_close("ln_pre_out", &ln_pre, f("intermediate.visual.ln_pre_out"), 1e-5, 1e-4);
        let x0 = clip.visual.transformer.forward_block(0, &ln_pre, froster_model::Attention::Full);
        assert_close("block0_out", &x0, f("intermediate.visual.block0_out"), 1e-5, 1e-4);
    });
}

#[test]
fn golden_tokenizer() {
    let tok = Tokenizer::new();
    let path = froster_testkit::golden_dir().join("tokenizer/tokens.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut checked = 0;
    for (n, line) in text.lines().enumerate() {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        let s = row["text"].as_str().unwrap();
        let got = tok.tokenize(s, 77);
        if row["ids"].is_null() {
            assert!(got.is_err(), "line {}: {s:?} should be too long", n + 1);
            let want: Vec<i64> =
                row["ids_truncate_true"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
            assert_eq!(tok.tokenize_truncate(s, 77), want, "line {}: truncate", n + 1);
        } else {
            let want: Vec<i64> = row["ids"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
            assert_eq!(got.unwrap(), want, "line {}: {s:?}", n + 1);
        }
        checked += 1;
    }
    assert!(checked > 0, "no tokenizer rows in {}", path.display());
}
