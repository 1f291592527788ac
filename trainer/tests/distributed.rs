//! Data-parallel training over c10d's Gloo on loopback (the CI machine's 2 cores): two ranks through the built-in
//! launcher equal one process, a killed rank stops the run with its name, and --resume finishes it.
mod common;
use common::{setup, train};
use froster_model::weights::{self, Weights};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

// 24 clips: 3 steps an epoch; 4 steps cross an epoch boundary (a new shuffle, split anew over the ranks).
const GLOBAL_BATCH: &[&str] = &["--set", "TRAIN.BATCH_SIZE=8", "--set", "SOLVER.MAX_EPOCH=2", "--max-steps", "4"];

fn final_state(out: &Path) -> Weights {
    let dir = out.join("checkpoints/resume");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "safetensors"));
    files.sort();
    weights::load(files.last().unwrap()).unwrap()
}

fn relative_diff(a: &Weights, b: &Weights) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    let keys = |w: &Weights| {
        let mut k: Vec<String> = w.keys().cloned().collect();
        k.sort();
        k
    };
    assert!(keys(a) == keys(b), "the two states hold different tensors");
    for (k, x) in a {
        let y = &b[k];
        num += (x - y).square().sum(tch::Kind::Double).double_value(&[]);
        den += y.square().sum(tch::Kind::Double).double_value(&[]);
    }
    (num / den).sqrt()
}

#[test]
fn two_ranks_train_as_one_process_with_the_global_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let (packs, classes) = setup(tmp.path());
    let (one, two) = (tmp.path().join("one"), tmp.path().join("two"));
    let o = train(&packs, &classes, &one, GLOBAL_BATCH).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = train(&packs, &classes, &two, GLOBAL_BATCH).args(["--nproc-per-node", "2"]).output().unwrap();
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{err}");
    assert!(out.contains("on 2 ranks"), "{out}");
    assert_eq!(err.matches("launched rank").count(), 2, "{err}");
    // Only rank 0 prints and writes: one summary line, one log.
    assert_eq!(out.matches("trained ").count(), 1, "{out}");
    let (l1, l2) = (common::losses(&one), common::losses(&two));
    assert_eq!(l1.len(), l2.len());
    assert!(l1.len() >= 2, "{l1:?}");
    for (a, b) in l1.iter().zip(&l2) {
        assert!((a - b).abs() <= 1e-5 * a.abs().max(1.0), "losses {l1:?} vs {l2:?}");
    }
    let (w1, w2) = (final_state(&one), final_state(&two));
    let d = relative_diff(&w2, &w1);
    eprintln!("two ranks vs one: final weights and AdamW state differ by {d:e} relative");
    assert!(d < 1e-5, "final weights and AdamW state differ by {d:e} relative");
    // The runs really trained: the weights moved from the teacher's.
    let teacher = weights::load(&one.join("checkpoints/teacher.safetensors")).unwrap();
    let moved = &w1["model.visual.conv1.weight"] - &teacher["visual.conv1.weight"];
    assert!(moved.abs().max().double_value(&[]) > 0.0);
}

#[test]
fn a_two_rank_run_resumed_by_one_process_continues_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let (packs, classes) = setup(tmp.path());
    let (whole, split) = (tmp.path().join("whole"), tmp.path().join("split"));
    let o = train(&packs, &classes, &whole, GLOBAL_BATCH).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Two steps on two ranks, then the rest on one process: the global batch is the same, so the run continues.
    let first = ["--set", "TRAIN.BATCH_SIZE=8", "--set", "SOLVER.MAX_EPOCH=2", "--max-steps", "2"];
    let o = train(&packs, &classes, &split, &first).args(["--nproc-per-node", "2"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = train(&packs, &classes, &split, GLOBAL_BATCH).arg("--resume").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let d = relative_diff(&final_state(&split), &final_state(&whole));
    eprintln!("2 ranks then 1 process vs 1 process throughout: {d:e} relative");
    assert!(d < 1e-5, "differs by {d:e}");
}

#[test]
fn a_batch_that_does_not_divide_over_the_ranks_is_refused_before_launch() {
    let tmp = tempfile::tempdir().unwrap();
    let (packs, classes) = (tmp.path().join("none"), tmp.path().join("classes.json"));
    std::fs::create_dir_all(&packs).unwrap();
    let o = train(&packs, &classes, &tmp.path().join("o"), &["--set", "TRAIN.BATCH_SIZE=6"])
        .args(["--nproc-per-node", "4"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("TRAIN.BATCH_SIZE 6") && err.contains("4 ranks"), "{err}");
    assert!(!err.contains("launched rank"), "{err}");
    let o = train(&packs, &classes, &tmp.path().join("o"), &[]).args(["--nproc-per-node", "0"]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("at least one rank") && !err.contains("panicked"), "{err}");
}

/// Starts a two-rank run through the launcher; returns it, its stderr and the ranks' pids.
fn launch_two(
    mut cmd: std::process::Command,
    timeout: &str,
) -> (std::process::Child, BufReader<std::process::ChildStderr>, Vec<String>) {
    let mut launcher = cmd
        .args(["--nproc-per-node", "2", "--dist-timeout", timeout])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(launcher.stderr.take().unwrap());
    let mut pids = Vec::new();
    let mut line = String::new();
    while pids.len() < 2 && err.read_line(&mut line).unwrap() > 0 {
        if let Some(p) = line.split("(pid ").nth(1) {
            pids.push(p.split(')').next().unwrap().to_string());
        }
        line.clear();
    }
    (launcher, err, pids)
}

fn wait_for(path: &Path) {
    let t0 = Instant::now();
    while !path.exists() && t0.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(path.exists(), "no {} within 120 s", path.display());
}

#[test]
fn a_hung_rank_is_named_after_the_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let (packs, classes) = setup(tmp.path());
    let out = tmp.path().join("run");
    let args =
        ["--set", "TRAIN.BATCH_SIZE=8", "--set", "SOLVER.MAX_EPOCH=6", "--set", "TRAIN.CHECKPOINT_EVERY_STEPS=1"];
    let (mut launcher, mut err, pids) = launch_two(train(&packs, &classes, &out, &args), "5");
    wait_for(&out.join("checkpoints/resume/latest.json"));
    std::process::Command::new("kill").args(["-STOP", &pids[1]]).status().unwrap();
    let t0 = Instant::now();
    let status = launcher.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let _ = std::process::Command::new("kill").args(["-KILL", &pids[1]]).status();
    assert!(!status.success(), "{rest}");
    assert!(t0.elapsed() < Duration::from_secs(60), "took {:?}", t0.elapsed());
    assert!(rest.contains("rank(s) [1] stopped responding"), "rank 0 names the hung rank: {rest}");
}

#[test]
fn a_killed_rank_stops_the_run_naming_it_and_resume_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let (packs, classes) = setup(tmp.path());
    let out = tmp.path().join("run");
    // Enough epochs that the kill lands mid-run; a resume point after every step.
    let args =
        ["--set", "TRAIN.BATCH_SIZE=8", "--set", "SOLVER.MAX_EPOCH=6", "--set", "TRAIN.CHECKPOINT_EVERY_STEPS=1"];
    let (mut launcher, mut err, pids) = launch_two(train(&packs, &classes, &out, &args), "60");
    // Wait until training is under way (a resume point exists), then kill rank 1 outright.
    wait_for(&out.join("checkpoints/resume/latest.json"));
    std::process::Command::new("kill").args(["-9", &pids[1]]).status().unwrap();
    let t_kill = Instant::now();
    let status = launcher.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    assert!(!status.success(), "{rest}");
    assert!(t_kill.elapsed() < Duration::from_secs(60), "took {:?} to stop", t_kill.elapsed());
    assert!(rest.contains("rank 1 was killed"), "{rest}");
    // Nothing half-written: the resume point it left loads, and --resume trains to the end.
    let o = train(&packs, &classes, &out, &args).args(["--nproc-per-node", "2", "--resume"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let words = std::fs::read_to_string(out.join("train.log")).unwrap();
    let resumed_at = words.lines().rev().find_map(|l| l.split("steps from step ").nth(1)).unwrap_or("0");
    assert!(!resumed_at.starts_with('0'), "the second run resumed mid-run: {words}");
    assert_eq!(common::losses(&out).len(), 18, "6 epochs of 3 steps, each logged once");
}

#[test]
fn the_ranks_clips_together_are_the_single_process_batch() {
    use froster_loader::{Loader, LoaderConfig, Mode, PackReader, PackSource, Shard};
    use std::sync::Arc;
    let tmp = tempfile::tempdir().unwrap();
    let (packs, _) = setup(tmp.path());
    let src = Arc::new(PackSource::new(Arc::new(PackReader::open(&packs).unwrap()), "train").unwrap());
    let cfg = |batch, shard, workers| LoaderConfig {
        batch_size: batch,
        workers,
        seed: 5,
        epoch: 3,
        mode: Mode::Train { min_scale: 32, max_scale: 40 },
        crop: 32,
        drop_last: true,
        shard,
        ..Default::default()
    };
    // Per step: the (video, clip pixels) of each clip, sorted.
    let steps = |loaders: Vec<Loader>| -> Vec<Vec<(usize, Vec<u8>)>> {
        let mut loaders = loaders;
        let mut out = Vec::new();
        loop {
            let mut step = Vec::new();
            for l in loaders.iter_mut() {
                let Some(b) = l.next() else { return out };
                let b = b.unwrap();
                let per = b.u8.len() / b.videos.len();
                step.extend(b.videos.iter().enumerate().map(|(i, &v)| (v, b.u8[i * per..(i + 1) * per].to_vec())));
            }
            step.sort();
            out.push(step);
        }
    };
    let one = steps(vec![Loader::new(src.clone(), cfg(8, Shard::default(), 2)).unwrap()]);
    let two = steps(
        (0..2).map(|rank| Loader::new(src.clone(), cfg(4, Shard { rank, world: 2 }, 1 + rank)).unwrap()).collect(),
    );
    assert_eq!(one.len(), 3, "24 clips in batches of 8");
    assert_eq!(one, two, "the two ranks' clips of each step are the single process's batch, pixels included");
}
