//! Test support (a dev-dependency only): the one place that knows where the shared test data lives, and the
//! helpers of the conformance tests against the reference's golden folder.
#[cfg(feature = "tensors")]
pub mod golden;

use std::path::PathBuf;

/// `../shared/<rel>` beside the checkout.
fn shared(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared").join(rel)
}

/// The golden folder: `FROSTER_GOLDEN_DIR`, default `../shared/golden`.
pub fn golden_dir() -> PathBuf {
    std::env::var_os("FROSTER_GOLDEN_DIR").map(PathBuf::from).unwrap_or_else(|| shared("golden"))
}

/// The real test videos: `FROSTER_DATA_VIDEOS`, default `../shared/data/videos`.
pub fn videos_dir() -> PathBuf {
    std::env::var_os("FROSTER_DATA_VIDEOS").map(PathBuf::from).unwrap_or_else(|| shared("data/videos"))
}

/// The reference's data path reimplemented (`reference_loader_bench.py`): `FROSTER_REFERENCE_BENCH`, default
/// `../shared/bench`.
pub fn reference_bench_dir() -> PathBuf {
    std::env::var_os("FROSTER_REFERENCE_BENCH").map(PathBuf::from).unwrap_or_else(|| shared("bench"))
}

/// The setup's Python (torch, av, numpy): `.froster/venv/bin/python` of the checkout.
pub fn venv_python() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.froster/venv/bin/python");
    assert!(p.exists(), "{} is missing: run scripts/setup.sh", p.display());
    p
}

/// A golden JSON file (relative to the golden folder).
pub fn golden_json(rel: &str) -> serde_json::Value {
    let p = golden_dir().join(rel);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The file names of the real test videos, sorted.
pub fn video_names() -> Vec<String> {
    let dir = videos_dir();
    let mut v: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().to_string()))
        .filter(|n| [".mp4", ".avi", ".mkv", ".webm", ".mov"].iter().any(|x| n.ends_with(x)))
        .collect();
    v.sort();
    v
}
