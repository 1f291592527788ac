//! A tiny CPU training run on a pack of the real test videos: the loss goes down, and kill -9 + --resume gives
//! bit-identical weights to an uninterrupted run.
mod common;
use common::*;
use froster_model::weights;
use std::process::Command;

#[test]
fn a_tiny_run_lowers_the_loss() {
    let tmp = tempfile::tempdir().unwrap();
    let (packs, classes) = setup(tmp.path());
    let out = tmp.path().join("run");
    let st = train(&packs, &classes, &out, &["--set", "SOLVER.MAX_EPOCH=5"]).output().unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let l = losses(&out);
    assert_eq!(l.len(), 5 * 6, "5 epochs of 6 steps");
    let head = l[..4].iter().sum::<f64>() / 4.0;
    let tail = l[l.len() - 4..].iter().sum::<f64>() / 4.0;
    assert!(tail < head * 0.9, "loss did not go down: {head:.4} -> {tail:.4} ({l:?})");
    for e in 1..=5 {
        assert!(out.join(format!("checkpoints/checkpoint_epoch_{e:05}.safetensors")).exists());
    }
    assert!(out.join("config.toml").exists() && out.join("checkpoints/teacher.safetensors").exists());
}

#[test]
fn kill_and_resume_gives_bit_identical_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let (packs, classes) = setup(tmp.path());
    let args = ["--set", "SOLVER.MAX_EPOCH=2", "--set", "TRAIN.CHECKPOINT_EVERY_STEPS=1"];
    let clean = tmp.path().join("clean");
    assert!(train(&packs, &classes, &clean, &args).status().unwrap().success());
    let killed = tmp.path().join("killed");
    let mut child = train(&packs, &classes, &killed, &args).spawn().unwrap();
    let latest = killed.join("checkpoints/resume/latest.json");
    let t0 = std::time::Instant::now();
    loop {
        let step = std::fs::read_to_string(&latest)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|j| j["position"]["step"].as_u64());
        if step.is_some_and(|s| s >= 8) || t0.elapsed().as_secs() > 120 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL, mid-epoch 1
    child.wait().unwrap();
    let final_file = "checkpoints/checkpoint_epoch_00002.safetensors";
    assert!(!killed.join(final_file).exists(), "the run finished before the kill; nothing was tested");
    let st = train(&packs, &classes, &killed, &[&args[..], &["--resume"]].concat()).output().unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let steps = |run: &std::path::Path| -> Vec<u64> {
        let log = std::fs::read_to_string(run.join("train_log.jsonl")).unwrap();
        log.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["step"].as_u64().unwrap()).collect()
    };
    assert_eq!(steps(&killed), steps(&clean), "the resumed log repeats or misses no step");
    let a = weights::load(&clean.join(final_file)).unwrap();
    let b = weights::load(&killed.join(final_file)).unwrap();
    assert_eq!(a.len(), b.len());
    for (k, t) in &a {
        assert!(t.equal(&b[k]), "{k} differs after resume");
    }
}

#[test]
fn bad_config_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let st = Command::new(env!("CARGO_BIN_EXE_froster-train"))
        .args(["--packs", "/nonexistent", "--set", "SOLVER.NOPE=1"])
        .arg("--out")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&st.stderr).contains("unknown key 'SOLVER.NOPE'"));
    let st = Command::new(env!("CARGO_BIN_EXE_froster-train"))
        .args(["--packs", "/nonexistent/pack", "--preset", "tiny"])
        .arg("--out")
        .arg(tmp.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&st.stderr);
    assert!(!st.status.success() && err.contains("/nonexistent/pack"), "{err}");
}

#[test]
fn a_non_finite_loss_stops_the_run_with_the_step() {
    let tmp = tempfile::tempdir().unwrap();
    let (packs, classes) = setup(tmp.path());
    let out = tmp.path().join("nan");
    let lr =
        ["--set", "SOLVER.BASE_LR=1e30", "--set", "SOLVER.WARMUP_START_LR=1e30", "--set", "SOLVER.COSINE_END_LR=1e29"];
    let st = train(&packs, &classes, &out, &[&lr[..], &["--set", "SOLVER.CLIP_GRAD_L2NORM=1e30"]].concat())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&st.stderr);
    assert!(!st.status.success(), "a diverging run must stop");
    assert!(err.contains("non-finite loss") && err.contains("at step"), "{err}");
}
