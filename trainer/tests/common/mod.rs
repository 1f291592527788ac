//! The tiny run the trainer's tests share: a pack of the real videos, three classes, froster-train's command.
#![allow(dead_code)]
use froster_loader::format::PixelFormat;
use froster_loader::DecodeOptions;
use froster_pack::{BuildOptions, EncodeOptions, ListSet};
use froster_testkit::{video_names, videos_dir};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A pack whose `train` list names each real video 4 times, labels cycling over 3 classes, and whose `val` list
/// names each once.
pub fn setup(tmp: &Path) -> (PathBuf, PathBuf) {
    let names = video_names();
    let mut lines = String::new();
    for r in 0..4 {
        for (i, n) in names.iter().enumerate() {
            lines.push_str(&format!("{n},{}\n", (i + r) % 3));
        }
    }
    std::fs::write(tmp.join("train.csv"), lines).unwrap();
    let val: String = names.iter().enumerate().map(|(i, n)| format!("{n},{}\n", i % 3)).collect();
    std::fs::write(tmp.join("val.csv"), val).unwrap();
    let packs = tmp.join("pack");
    let decode = DecodeOptions { short_side: 48, pixel: PixelFormat::I420, ..Default::default() };
    let lists = ListSet::read(&[tmp.join("train.csv"), tmp.join("val.csv")]).unwrap();
    let opts = BuildOptions {
        encode: EncodeOptions { decode, keep_every: 1, zstd_level: 1, ..Default::default() },
        jobs: 2,
        ..BuildOptions::new(videos_dir(), lists, &packs)
    };
    froster_pack::build(&opts).unwrap();
    let classes = tmp.join("classes.json");
    std::fs::write(
        &classes,
        r#"{"0": "Red circle: a red disc moves", "1": "Blue square: a square turns", "2": "Green bar: a bar slides"}"#,
    )
    .unwrap();
    (packs, classes)
}

pub fn train(packs: &Path, classes: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_froster-train"));
    c.arg("--packs").arg(packs).arg("--out").arg(out).args(["--preset", "tiny", "--device", "cpu", "--quiet"]);
    c.arg("--set").arg(format!("DATA.CLASSES=\"{}\"", classes.display()));
    c.args(extra);
    c
}

/// The loss of every step in the run's `train_log.jsonl` (validation lines have none).
pub fn losses(out: &Path) -> Vec<f64> {
    std::fs::read_to_string(out.join("train_log.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap().get("loss").map(|v| v.as_f64().unwrap()))
        .collect()
}
