//! What the tools' tests share: the binaries, and fixture packs with a tiny random CLIP.
#![allow(dead_code)]
use froster_fixtures::{generate, FixtureConfig};
use froster_loader::format::PixelFormat;
use froster_loader::DecodeOptions;
use froster_model::{weights, Clip, ClipConfig};
use froster_pack::{BuildOptions, EncodeOptions, ListSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin(name: &str) -> Command {
    let dir = PathBuf::from(env!("CARGO_BIN_EXE_froster-eval")).parent().unwrap().to_path_buf();
    Command::new(dir.join(name))
}

pub fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Fixtures, a pack of train/val/test, and a tiny random CLIP saved as a checkpoint.
pub fn setup(tmp: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let cfg = FixtureConfig { train_per_class: 2, eval_per_class: 2, frames: 40, ..Default::default() };
    let f = generate(&tmp.join("fx"), &cfg).unwrap();
    let lists: Vec<PathBuf> = ["train", "val", "test"].iter().map(|n| f.protocol.join(format!("{n}.csv"))).collect();
    let decode = DecodeOptions { short_side: 48, pixel: PixelFormat::I420, ..Default::default() };
    let pack = tmp.join("pack");
    let o = BuildOptions {
        encode: EncodeOptions { decode, keep_every: 1, zstd_level: 1, ..Default::default() },
        jobs: 2,
        ..BuildOptions::new(&f.videos, ListSet::read(&lists).unwrap(), &pack)
    };
    froster_pack::build(&o).unwrap();
    tch::manual_seed(0);
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let _ = Clip::new(&vs.root(), &ClipConfig::tiny());
    let ckpt = tmp.join("clip.safetensors");
    weights::save(&ckpt, &weights::snapshot(&vs)).unwrap();
    (pack, f.protocol, ckpt)
}
