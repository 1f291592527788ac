//! Sharded evaluation: two ranks (the built-in launcher, and torchrun from the setup's venv) score their halves
//! of the videos and gather the logits, so the outputs equal one process's.
mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn eval(pack: &Path, ckpt: &Path, classes: &Path, out: &Path) -> Command {
    let mut c = bin("froster-eval");
    c.arg("--packs").arg(pack).arg("--checkpoint").arg(ckpt).args(["--device", "cpu", "--quiet", "--batch", "4"]);
    c.args(["--list", "val", "--classes"]).arg(classes).arg("--out").arg(out);
    c
}

fn outputs(out: &Path) -> (String, serde_json::Value) {
    let preds = std::fs::read_to_string(out.join("predictions.csv")).unwrap();
    let summary = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    (preds, summary)
}

fn torchrun() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.froster/venv/bin/torchrun");
    assert!(venv.exists(), "{} is missing: run scripts/setup.sh", venv.display());
    venv
}

#[test]
fn two_ranks_evaluate_as_one_process() {
    let tmp = tempfile::tempdir().unwrap();
    let (pack, protocol, ckpt) = setup(tmp.path());
    let classes = protocol.join("train_rephrased.json");
    let one = tmp.path().join("one");
    ok(eval(&pack, &ckpt, &classes, &one).output().unwrap());
    let (preds, summary) = outputs(&one);
    assert_eq!(preds.lines().count(), 7, "{preds}");

    let two = tmp.path().join("two");
    let text = ok(eval(&pack, &ckpt, &classes, &two).args(["--nproc-per-node", "2"]).output().unwrap());
    assert_eq!(text.matches("top-1").count(), 1, "only rank 0 prints: {text}");
    let (p2, s2) = outputs(&two);
    assert_eq!(p2, preds);
    assert_eq!(s2["top1"], summary["top1"]);
    assert_eq!(s2["videos"], summary["videos"]);

    let three = tmp.path().join("torchrun");
    let mut c = Command::new(torchrun());
    c.args(["--standalone", "--nproc-per-node", "2", "--no-python", env!("CARGO_BIN_EXE_froster-eval")]);
    c.arg("--packs").arg(&pack).arg("--checkpoint").arg(&ckpt).args(["--device", "cpu", "--quiet", "--batch", "4"]);
    c.args(["--list", "val", "--classes"]).arg(&classes).arg("--out").arg(&three);
    ok(c.output().unwrap());
    assert_eq!(outputs(&three).0, preds, "torchrun's two ranks");
}
