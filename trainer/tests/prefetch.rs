//! froster-train --prefetch: batches moved to the device ahead of their step are the same batches in the same
//! order, so a run with it equals a run without it, loss for loss, weight for weight and validation for
//! validation, across the end of an epoch and a stop in the middle of one.
mod common;
use common::*;
use froster_loader::{ClipSource, Loader, PackReader, PackSource, SamplingConfig};
use froster_model::{layout, weights};
use froster_train::eval::test_loader;
use froster_train::feed::Feed;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const STEPS: usize = 8;

#[test]
fn prefetch_takes_the_same_steps_as_without_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (packs, classes) = setup(tmp.path());
    // 24 clips, batches of 4 in two micro-batches: 6 steps an epoch. 8 steps cross the end of the first epoch
    // and stop in the second with batches already moved ahead and never stepped on.
    let steps = STEPS.to_string();
    // Validation after the first epoch runs through the same feed.
    let args = [
        "--set",
        "SOLVER.MAX_EPOCH=2",
        "--set",
        "TRAIN.ACCUM_STEPS=2",
        "--set",
        "TRAIN.EVAL_PERIOD=1",
        "--max-steps",
        &steps,
    ];
    let run = |prefetch: &str| -> PathBuf {
        let out = tmp.path().join(format!("prefetch-{prefetch}"));
        let o = train(&packs, &classes, &out, &[&args[..], &["--prefetch", prefetch]].concat()).output().unwrap();
        assert!(o.status.success(), "--prefetch {prefetch}: {}", String::from_utf8_lossy(&o.stderr));
        out
    };
    let (off, on) = (run("off"), run("on"));
    let (without, with) = (losses(&off), losses(&on));
    assert_eq!(without.len(), STEPS);
    assert_eq!(with, without, "the same losses, step for step");
    let (a, b) = (validations(&off), validations(&on));
    assert_eq!(a.len(), 1, "one validation, after the first epoch");
    assert_eq!(a, b, "the same validation");
    let resume = |run: &Path| weights::load(&layout::resume_dir(run).join(layout::resume_file_name(STEPS))).unwrap();
    let (a, b) = (resume(&off), resume(&on));
    assert_eq!(a.len(), b.len());
    for (k, t) in &a {
        assert!(t.equal(&b[k]), "{k} differs with --prefetch on");
    }
}

/// Every batch of the feed, as (clip values, labels, video ids), and the skip reasons it reports.
type Batches = (Vec<(Vec<f32>, Vec<i64>, Vec<usize>)>, Vec<String>);

fn drain(feed: Feed, stop_after: usize) -> Batches {
    let mut feed = feed;
    let mut out = Vec::new();
    for fed in feed.by_ref().take(stop_after) {
        let f = fed.unwrap();
        let v = Vec::<f32>::try_from(f.clips.video.flatten(0, -1)).unwrap();
        assert_eq!(Vec::<i64>::try_from(&f.clips.labels).unwrap(), f.labels, "the clips' labels are the batch's");
        out.push((v, f.labels, f.videos));
    }
    (out, feed.finish())
}

#[test]
fn the_feed_hands_out_the_loaders_batches_in_order_ahead_or_not() {
    let tmp = tempfile::tempdir().unwrap();
    let (packs, _) = setup(tmp.path());
    let src = Arc::new(PackSource::new(Arc::new(PackReader::open(&packs).unwrap()), "val").unwrap());
    let sampling = SamplingConfig { num_frames: 4, sampling_rate: 2, num_views: 2, num_crops: 3, ..Default::default() };
    // Two workers and a batch size that does not divide the views: the last batch is short.
    let loader = || Loader::new(src.clone(), test_loader(sampling, 32, 4, 2)).unwrap();
    let dev = tch::Device::Cpu;
    let (direct, none) = drain(Feed::new(loader(), dev, false, 1).unwrap(), usize::MAX);
    let views = 2 * 3 * src.len();
    assert_eq!(direct.iter().map(|b| b.1.len()).sum::<usize>(), views, "every view once");
    assert!(none.is_empty(), "{none:?}");
    for ahead in [1, 3] {
        let (moved, _) = drain(Feed::new(loader(), dev, true, ahead).unwrap(), usize::MAX);
        assert!(moved == direct, "ahead {ahead}: other batches or another order");
    }
    // Stopped early, with batches moved ahead that are never handed out: the first ones, and a clean stop.
    let (first, _) = drain(Feed::new(loader(), dev, true, 3).unwrap(), 2);
    assert!(first[..] == direct[..2]);
}

#[test]
fn prefetch_is_a_switch_with_words() {
    let tmp = tempfile::tempdir().unwrap();
    let (packs, classes) = setup(tmp.path());
    let o = train(&packs, &classes, &tmp.path().join("run"), &["--prefetch", "maybe"]).output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("--prefetch") && e.contains("maybe"), "{e}");
}

fn validations(out: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(out.join("train_log.jsonl")).unwrap();
    text.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap().get("eval").cloned()).collect()
}
