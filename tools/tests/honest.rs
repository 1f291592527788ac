//! Honest counts in evaluation, froster-predict's inputs and failures, and one name and a help text for every
//! argument of every tool.
mod common;
use common::*;
use std::path::Path;

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn eval_counts_videos_that_failed_to_pack() {
    let tmp = tempfile::tempdir().unwrap();
    let (pack, protocol, ckpt) = setup(tmp.path());
    // The same videos packed again, with the val list naming one more that does not exist.
    let val = std::fs::read_to_string(protocol.join("val.csv")).unwrap() + "val/gone/000.mp4,0\n";
    std::fs::write(tmp.path().join("val.csv"), val).unwrap();
    let lists = froster_pack::ListSet::read(&[tmp.path().join("val.csv")]).unwrap();
    let pack2 = tmp.path().join("pack2");
    let videos = tmp.path().join("fx/videos");
    froster_pack::build(&froster_pack::BuildOptions {
        jobs: 2,
        ..froster_pack::BuildOptions::new(&videos, lists, &pack2)
    })
    .unwrap();
    let _ = pack;
    let eval = |extra: &[&str]| {
        let mut c = bin("froster-eval");
        c.arg("--packs").arg(&pack2).arg("--checkpoint").arg(&ckpt).args(["--device", "cpu", "--quiet"]);
        c.args(["--list", "val", "--classes"]).arg(protocol.join("train_rephrased.json"));
        c.arg("--out").arg(tmp.path().join("ev")).args(extra).output().unwrap()
    };
    let text = ok(eval(&[]));
    assert!(text.contains("evaluated 6 of 7 listed (1 in failed.csv, e.g. val/gone/000.mp4)"), "{text}");
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("ev/summary.json")).unwrap()).unwrap();
    assert_eq!((s["listed"].as_u64(), s["videos"].as_u64()), (Some(7), Some(6)));
    assert_eq!(s["missing"][0], "val/gone/000.mp4");
    let o = eval(&["--strict"]);
    assert!(!o.status.success() && stderr(&o).contains("--strict"), "{}", stderr(&o));
    let o = eval(&["--views", "0"]);
    assert!(!o.status.success() && stderr(&o).contains("--views"), "{}", stderr(&o));
    // The per-class chart: a titled row per class.
    let png = std::fs::read(tmp.path().join("ev/per_class.png")).unwrap();
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!(height, 40 + 3 * 12 + 30, "three class rows");
    // A folder that is not a pack says so.
    let o = bin("froster-eval")
        .arg("--packs")
        .arg(tmp.path())
        .arg("--checkpoint")
        .arg(&ckpt)
        .args(["--list", "val", "--classes"])
        .arg(protocol.join("train_rephrased.json"))
        .args(["--device", "cpu"])
        .output()
        .unwrap();
    assert!(stderr(&o).contains("not a pack (no manifest.json)"), "{}", stderr(&o));
}

#[test]
fn predict_reads_video_files_reports_each_failure_once_and_fails_when_nothing_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, protocol, ckpt) = setup(tmp.path());
    let real = froster_testkit::videos_dir()
        .join(froster_testkit::video_names().iter().find(|n| n.ends_with(".mp4")).unwrap());
    let dir = tmp.path().join("mine");
    std::fs::create_dir_all(dir.join("deeper")).unwrap();
    std::fs::copy(&real, dir.join("deeper/a.mp4")).unwrap();
    std::fs::write(dir.join("b.mp4"), b"broken").unwrap();
    std::fs::write(dir.join("notes.txt"), b"not a video").unwrap();
    let predict = |input: &Path, extra: &[&str]| {
        let mut c = bin("froster-predict");
        c.arg(input).arg("--checkpoint").arg(&ckpt).arg("--classes").arg(protocol.join("test_rephrased.json"));
        c.args(["--device", "cpu"]).args(extra).output().unwrap()
    };
    let o = predict(&dir, &["--frames", "100000"]);
    assert!(!o.status.success() && stderr(&o).contains("--frames"), "{}", stderr(&o));
    // Without --recursive only b.mp4 is found, and it does not read: a non-zero exit, the path named once.
    let o = predict(&dir, &[]);
    let e = stderr(&o);
    assert!(!o.status.success(), "{e}");
    let b = dir.join("b.mp4").display().to_string();
    assert_eq!(e.matches(&b).count(), 1, "{e}");
    assert!(!e.contains("notes.txt"), "{e}");
    // --recursive finds the nested video; --out keeps every result.
    let out = tmp.path().join("pred");
    let o = predict(&dir, &["--recursive", "--json", "--out", out.to_str().unwrap()]);
    let lines: Vec<serde_json::Value> = ok(o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().any(|l| l["video"].as_str().unwrap().ends_with("deeper/a.mp4") && l["top"].is_array()));
    let saved: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(out.join("predictions.json")).unwrap()).unwrap();
    assert_eq!(saved.len(), 2);
}

/// Every option and positional argument of every tool and subcommand has a help text.
#[test]
fn every_argument_has_help() {
    let tools: [(&str, &[&str]); 7] = [
        ("froster-fixtures", &[]),
        ("froster-pack", &["build", "scan", "verify", "inspect", "replace", "compact"]),
        ("froster-train", &[]),
        ("froster-eval", &[]),
        ("froster-predict", &[]),
        ("froster-tools", &["convert", "average", "patch", "plot"]),
        ("froster-bench", &["loader", "pack", "model", "train-step", "eval-step"]),
    ];
    let mut missing = Vec::new();
    for (tool, subs) in tools {
        let mut runs: Vec<Vec<&str>> = subs.iter().map(|s| vec![*s, "--help"]).collect();
        runs.push(vec!["--help"]);
        if tool == "froster-eval" {
            runs.push(vec!["protocol", "b2n", "--help"]);
            runs.push(vec!["protocol", "cross", "--help"]);
        }
        for args in runs {
            let o = bin(tool).args(&args).output().unwrap();
            missing.extend(
                undocumented(&String::from_utf8_lossy(&o.stdout)).into_iter().map(|a| format!("{tool} {args:?}: {a}")),
            );
        }
    }
    assert!(missing.is_empty(), "arguments without help:\n{}", missing.join("\n"));
    let o = bin("froster-eval").output().unwrap();
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stdout).contains("protocol"));
}

/// Argument lines of clap's long help with no description (clap puts it on the next, deeper-indented line).
fn undocumented(help: &str) -> Vec<String> {
    let lines: Vec<&str> = help.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim_start();
        let indent = l.len() - t.len();
        let is_arg = (indent <= 6 && t.starts_with('-')) || (indent == 2 && (t.starts_with('<') || t.starts_with('[')));
        if !is_arg || t.starts_with("-h, --help") || t.starts_with("-V, --version") {
            continue;
        }
        let indent = l.len() - t.len();
        let described = |d: &str| !d.trim().is_empty() && !d.trim().starts_with('[');
        let has_inline = t.split_once("  ").is_some_and(|(_, d)| described(d));
        let next_deeper = lines.get(i + 1).is_some_and(|n| {
            let nt = n.trim_start();
            n.len() - nt.len() > indent && !nt.starts_with('-') && described(nt)
        });
        if !has_inline && !next_deeper {
            out.push(t.to_string());
        }
    }
    out
}
