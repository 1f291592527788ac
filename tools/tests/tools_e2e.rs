//! froster-eval (single list and both protocols), froster-predict, and froster-tools average/patch/convert on
//! fixture packs with tiny random weights.
mod common;
use common::*;
use froster_model::{weights, Clip, ClipConfig};
use std::process::Command;

#[test]
fn eval_protocols_predict_and_checkpoint_tools() {
    let tmp = tempfile::tempdir().unwrap();
    let (pack, protocol, ckpt) = setup(tmp.path());
    let common = |c: &mut Command| {
        c.arg("--packs").arg(&pack).arg("--checkpoint").arg(&ckpt).args(["--device", "cpu", "--quiet", "--batch", "4"]);
    };
    // One list.
    let out = tmp.path().join("eval");
    let mut c = bin("froster-eval");
    common(&mut c);
    ok(c.args(["--list", "val", "--classes"])
        .arg(protocol.join("train_rephrased.json"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap());
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["videos"], 6);
    assert_eq!(s["views_per_video"], 3);
    let top1 = s["top1"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&top1));
    assert_eq!(std::fs::read_to_string(out.join("predictions.csv")).unwrap().lines().count(), 7);
    assert!(std::fs::read(out.join("per_class.png")).unwrap().starts_with(b"\x89PNG"));
    // Base-to-novel.
    let out = tmp.path().join("b2n");
    let mut c = bin("froster-eval");
    c.args(["protocol", "b2n"]);
    common(&mut c);
    let text = ok(c.arg("--protocol").arg(&protocol).arg("--out").arg(&out).output().unwrap());
    assert!(text.contains("| base-to-novel |"), "{text}");
    let j: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("b2n.json")).unwrap()).unwrap();
    let (b, n, hm) = (j["base"].as_f64().unwrap(), j["novel"].as_f64().unwrap(), j["hm"].as_f64().unwrap());
    assert!((hm - if b + n > 0.0 { 2.0 * b * n / (b + n) } else { 0.0 }).abs() < 1e-9);
    // Cross-dataset runner over "splits" (here the val and test lists stand in for them).
    let mut c = bin("froster-eval");
    c.args(["protocol", "cross", "--name", "fixtures", "--split", "val", "--split", "val"]);
    common(&mut c);
    let text = ok(c
        .arg("--classes")
        .arg(protocol.join("train_rephrased.json"))
        .arg("--out")
        .arg(tmp.path().join("cross"))
        .output()
        .unwrap());
    assert!(text.contains("| fixtures | - |") && text.contains("+- 0.00"), "{text}");
    // Patched on the fly with ratio 1 equals the original model: same accuracy as evaluating the original.
    let mut c = bin("froster-eval");
    common(&mut c);
    let text = ok(c
        .args(["--list", "val", "--patch-ratio", "1.0", "--clip"])
        .arg(&ckpt)
        .arg("--classes")
        .arg(protocol.join("train_rephrased.json"))
        .arg("--out")
        .arg(tmp.path().join("p"))
        .output()
        .unwrap());
    assert!(text.contains(&format!("top-1 {top1:.2}")), "{text}");
    // Predict: a real video and a broken one; the broken one is an error line and the rest go on.
    let videos = froster_testkit::videos_dir();
    let dir = tmp.path().join("mine");
    std::fs::create_dir_all(&dir).unwrap();
    let real = std::fs::read_dir(&videos)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "mp4"))
        .unwrap();
    std::fs::copy(&real, dir.join("a.mp4")).unwrap();
    std::fs::write(dir.join("b.mp4"), b"broken").unwrap();
    let o = bin("froster-predict")
        .arg(&dir)
        .arg("--checkpoint")
        .arg(&ckpt)
        .arg("--classes")
        .arg(protocol.join("test_rephrased.json"))
        .args(["--json", "--top-k", "2", "--device", "cpu"])
        .output()
        .unwrap();
    let stdout = ok(o.clone());
    let lines: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "a line per video, the failed one too: {stdout}");
    let p: f64 = lines[0]["top"].as_array().unwrap().iter().map(|t| t["probability"].as_f64().unwrap()).sum();
    assert!(p > 0.0 && p <= 1.0 + 1e-9);
    assert!(lines[1]["video"].as_str().unwrap().ends_with("b.mp4") && lines[1]["error"].is_string(), "{stdout}");
}

#[test]
fn average_patch_and_convert() {
    let tmp = tempfile::tempdir().unwrap();
    let ck = tmp.path().join("checkpoints");
    std::fs::create_dir_all(&ck).unwrap();
    let mk = |seed: i64| {
        tch::manual_seed(seed);
        let vs = tch::nn::VarStore::new(tch::Device::Cpu);
        let _ = Clip::new(&vs.root(), &ClipConfig::tiny());
        weights::snapshot(&vs)
    };
    let raw = mk(0);
    weights::save(&ck.join("teacher.safetensors"), &raw).unwrap();
    let prefixed = |w: &weights::Weights| -> weights::Weights {
        w.iter().map(|(k, v)| (format!("model.{k}"), v.shallow_clone())).collect()
    };
    let epochs: Vec<weights::Weights> = (1..=3).map(|e| prefixed(&mk(e))).collect();
    for (i, w) in epochs.iter().enumerate() {
        weights::save(&ck.join(format!("checkpoint_epoch_{:05}.safetensors", i + 1)), w).unwrap();
    }
    let avg = tmp.path().join("avg.safetensors");
    let text = ok(bin("froster-tools")
        .arg("average")
        .arg("--from")
        .arg(&ck)
        .args(["--start", "2", "--end", "3", "--out"])
        .arg(&avg)
        .output()
        .unwrap());
    assert!(text.contains("[2, 3]"), "{text}");
    let a = weights::load(&avg).unwrap();
    let k = "model.visual.proj";
    let want = (&epochs[1][k] + &epochs[2][k]) / 2.0;
    assert!(a[k].allclose(&want, 1e-6, 1e-7, false));
    // Patch with ratio 0.25: 0.25 * raw + 0.75 * averaged.
    let patched = tmp.path().join("patched.safetensors");
    ok(bin("froster-tools")
        .arg("patch")
        .arg("--clip")
        .arg(ck.join("teacher.safetensors"))
        .arg("--checkpoint")
        .arg(&avg)
        .args(["--patch-ratio", "0.25", "--out"])
        .arg(&patched)
        .output()
        .unwrap());
    let p = weights::load(&patched).unwrap();
    let want = &raw["visual.proj"] * 0.25 + &a[k] * 0.75;
    assert!(p[k].allclose(&want, 1e-6, 1e-7, false));
    let bad = bin("froster-tools")
        .arg("patch")
        .arg("--clip")
        .arg(&avg)
        .arg("--checkpoint")
        .arg(&avg)
        .args(["--patch-ratio", "1.5", "--out"])
        .arg(&patched)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains("outside [0, 1]"));
    // Convert: safetensors -> safetensors keeps every tensor.
    let conv = tmp.path().join("conv.safetensors");
    ok(bin("froster-tools").arg("convert").arg(&avg).arg(&conv).output().unwrap());
    assert_eq!(weights::load(&conv).unwrap().len(), a.len());
    // A file that is no CLIP is refused by patch, and an empty state dict by convert; nothing is written.
    let other = tmp.path().join("other.safetensors");
    let mut w = weights::Weights::new();
    w.insert("foo".into(), tch::Tensor::ones([3], (tch::Kind::Float, tch::Device::Cpu)));
    weights::save(&other, &w).unwrap();
    let not_written = tmp.path().join("nope.safetensors");
    let o = bin("froster-tools")
        .args(["patch", "--clip"])
        .arg(&avg)
        .arg("--checkpoint")
        .arg(&other)
        .args(["--patch-ratio", "0.5", "--out"])
        .arg(&not_written)
        .output()
        .unwrap();
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("not a CLIP"));
    let empty = tmp.path().join("empty.safetensors");
    weights::save(&empty, &weights::Weights::new()).unwrap();
    let o = bin("froster-tools").arg("convert").arg(&empty).arg(&not_written).output().unwrap();
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("no tensor"));
    assert!(!not_written.exists());
}
