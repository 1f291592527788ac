//! Golden case `weight_average`: the reference's weight_average_tool over epoch checkpoints.
use froster_model::weights::Weights;
use froster_testkit::golden::{self, assert_close};
use froster_tools::average::{average, epoch_checkpoints};
use tch::Kind;

#[test]
fn golden_weight_average() {
    let j = golden::json("weight_average/weight_average.json");
    let dir = froster_testkit::golden_dir().join("weight_average");
    let raw: Weights = golden::tensors("weight_average/raw_clip.safetensors");
    let ckpts = epoch_checkpoints(&dir).unwrap();
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
