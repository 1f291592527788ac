//! `froster-bench train-step --packs` runs froster-train's own step: after 3 steps on the same pack and config,
//! the losses and the weights equal those of the trainer as `froster-train` runs it.
use froster_loader::format::{Codec, PixelFormat};
use froster_loader::DecodeOptions;
use froster_model::{layout, weights};
use froster_pack::{BuildOptions, EncodeOptions, ListSet, NamedList};
use froster_testkit::{video_names, videos_dir};
use froster_train::config::ConfigArgs;
use froster_train::train::{Options, Trainer};
use std::path::Path;
use std::process::Command;

const STEPS: usize = 3;

fn config_args(classes: &Path) -> ConfigArgs {
    let sets = vec![format!("DATA.CLASSES={}", classes.display())];
    ConfigArgs { preset: Some("tiny".into()), sets, ..Default::default() }
}

#[test]
fn bench_train_step_and_froster_train_take_the_same_steps() {
    let tmp = tempfile::tempdir().unwrap();
    let items: Vec<(String, i64)> = (0..4)
        .flat_map(|r| video_names().into_iter().enumerate().map(move |(i, n)| (n, ((i + r) % 3) as i64)))
        .collect();
    let pack = tmp.path().join("pack");
    let lists = ListSet::from_lists(vec![NamedList { name: "train".into(), items }], vec![]);
    let decode = DecodeOptions { short_side: 48, pixel: PixelFormat::I420, ..Default::default() };
    let opts = BuildOptions {
        encode: EncodeOptions { decode, keep_every: 1, zstd_level: 1, codec: Codec::Lossless, ..Default::default() },
        jobs: 2,
        ..BuildOptions::new(videos_dir(), lists, &pack)
    };
    froster_pack::build(&opts).unwrap();
    let classes = tmp.path().join("classes.json");
    std::fs::write(&classes, r#"{"0": "Slide: a shape slides", "1": "Fall: a shape falls", "2": "Grow: it grows"}"#)
        .unwrap();

    // froster-train's path: the config flags, then the trainer, stopped after STEPS.
    let run_a = tmp.path().join("train");
    let cfg = config_args(&classes).load().unwrap();
    let opts = Options {
        packs: pack.clone(),
        out: run_a.clone(),
        start: froster_train::run_dir::Start::Fresh,
        strict: false,
        device: tch::Device::Cpu,
        progress: false,
        max_steps: Some(STEPS),
        checkpoints: true,
        cuda_graph: true,
        prefetch: false,
        world: std::sync::Arc::new(froster_train::dist::World::single()),
    };
    let summary = Trainer::new(cfg, opts).unwrap().run().unwrap();
    assert_eq!(summary.steps, STEPS);

    // The benchmark's path, through its binary.
    let run_b = tmp.path().join("bench");
    let out = Command::new(env!("CARGO_BIN_EXE_froster-bench"))
        .args(["train-step", "--preset", "tiny", "--set"])
        .arg(format!("DATA.CLASSES={}", classes.display()))
        .arg("--packs")
        .arg(&pack)
        .arg("--out")
        .arg(&run_b)
        .args(["--steps", &STEPS.to_string(), "--warmup", "0", "--device", "cpu"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let bench_losses: Vec<f64> = report["losses"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();

    let log = std::fs::read_to_string(run_a.join("train_log.jsonl")).unwrap();
    let train_losses: Vec<f64> =
        log.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["loss"].as_f64().unwrap()).collect();
    assert_eq!(train_losses.len(), STEPS);
    assert_eq!(bench_losses, train_losses, "the same losses, step for step");

    let resume = |run: &Path| weights::load(&layout::resume_dir(run).join(layout::resume_file_name(STEPS))).unwrap();
    let (a, b) = (resume(&run_a), resume(&run_b));
    assert!(a.keys().any(|k| k.starts_with(layout::STUDENT)) && a.keys().any(|k| layout::is_projector(k)));
    assert_eq!(a.len(), b.len());
    for (k, wa) in &a {
        let wb = &b[k];
        let err = (wa - wb).abs().max().double_value(&[]);
        let scale = wa.abs().max().double_value(&[]).max(1e-12);
        assert!(err <= 1e-5 * scale, "{k}: weights differ by {err:.3e} (max |w| {scale:.3e})");
    }
    let init = weights::load(&layout::teacher_file(&run_a)).unwrap();
    let moved = a.iter().any(|(k, w)| {
        let clip_key = k.strip_prefix(layout::STUDENT);
        clip_key.and_then(|c| init.get(c)).is_some_and(|i| (w - i).abs().max().double_value(&[]) > 0.0)
    });
    assert!(moved, "three steps changed the student");
}
