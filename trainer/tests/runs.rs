//! Runs that are safe to start, honest in their counts and visible while they run; the reference's YAML
//! configs read as the reference reads them.
mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_froster-train"))
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn refusals_come_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let (packs, classes) = setup(tmp.path());
    let out = tmp.path().join("run");
    // No MODEL.CLIP: random weights only when asked for.
    let o = bin().arg("--packs").arg(&packs).arg("--out").arg(&out).output().unwrap();
    assert!(!o.status.success() && stderr(&o).contains("MODEL.CLIP is not set") && stderr(&o).contains("random"));
    // A warmup as long as the run: both keys named.
    let o = train(&packs, &classes, &out, &["--set", "SOLVER.MAX_EPOCH=1"]).output().unwrap();
    assert!(stderr(&o).contains("SOLVER.WARMUP_EPOCHS") && stderr(&o).contains("SOLVER.MAX_EPOCH"), "{}", stderr(&o));
    // A batch larger than the list, a zero size, a missing class file.
    let o = train(&packs, &classes, &out, &["--set", "TRAIN.BATCH_SIZE=64", "--set", "TRAIN.ACCUM_STEPS=1"])
        .output()
        .unwrap();
    assert!(stderr(&o).contains("fewer clips than one batch (64)"), "{}", stderr(&o));
    let o = train(&packs, &classes, &out, &["--set", "DATA.SAMPLING_RATE=0"]).output().unwrap();
    assert!(stderr(&o).contains("DATA.SAMPLING_RATE must be positive"), "{}", stderr(&o));
    let o = train(&packs, &classes, &out, &["--set", "DATA.TRAIN_CROP_SIZE=100000"]).output().unwrap();
    assert!(stderr(&o).contains("DATA.TRAIN_CROP_SIZE = 100000 is over"), "{}", stderr(&o));
    let o = train(&packs, &tmp.path().join("nope.json"), &out, &[]).output().unwrap();
    assert!(stderr(&o).contains("nope.json"), "{}", stderr(&o));
    assert!(!out.exists(), "a refused run wrote {}", out.display());
    // A GPU asked for on a machine without one: one line, no backtrace.
    if !tch::Cuda::is_available() {
        let o = bin().arg("--packs").arg(&packs).args(["--preset", "tiny", "--device", "cuda"]).output().unwrap();
        let e = stderr(&o);
        assert!(!o.status.success() && e.contains("no CUDA GPU") && e.trim().lines().count() == 1, "{e}");
    }
}

#[test]
fn a_second_run_into_a_used_folder_needs_resume_or_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let (packs, classes) = setup(tmp.path());
    let out = tmp.path().join("run");
    let short = ["--set", "SOLVER.MAX_EPOCH=2", "--max-steps", "2"];
    assert!(train(&packs, &classes, &out, &short).status().unwrap().success());
    let o = train(&packs, &classes, &out, &short).output().unwrap();
    assert!(!o.status.success() && stderr(&o).contains("--resume") && stderr(&o).contains("--overwrite"));
    // A resume with another batch size would spoil the run: refused, naming the key; --force takes it.
    let other = ["--set", "TRAIN.BATCH_SIZE=2", "--resume"];
    let o = train(&packs, &classes, &out, &[&short[..], &other].concat()).output().unwrap();
    assert!(!o.status.success() && stderr(&o).contains("TRAIN.BATCH_SIZE: 4 -> 2"), "{}", stderr(&o));

    // A longer schedule is safe, and said.
    let longer = ["--set", "SOLVER.MAX_EPOCH=3", "--resume", "--max-steps", "3"];
    let o = train(&packs, &classes, &out, &longer).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && text.contains("SOLVER.MAX_EPOCH: 2 -> 3"), "{text}\n{}", stderr(&o));
    // --force takes what would be refused, and says so.
    let forced =
        ["--set", "SOLVER.MAX_EPOCH=3", "--set", "TRAIN.BATCH_SIZE=2", "--resume", "--force", "--max-steps", "4"];
    let o = train(&packs, &classes, &out, &forced).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && text.contains("TRAIN.BATCH_SIZE: 4 -> 2"), "{text}\n{}", stderr(&o));
    // --overwrite empties the folder first.
    std::fs::write(out.join("stale.txt"), "old").unwrap();
    assert!(train(&packs, &classes, &out, &[&short[..], &["--overwrite"]].concat()).status().unwrap().success());
    assert!(!out.join("stale.txt").exists());
}

#[test]
fn progress_is_visible_without_a_terminal_and_logged() {
    let tmp = tempfile::tempdir().unwrap();
    let (packs, classes) = setup(tmp.path());
    let out = tmp.path().join("run");
    let extra = ["--set", "SOLVER.MAX_EPOCH=3", "--set", "TRAIN.EVAL_PERIOD=1", "--log-every", "2"];
    let mut child = train(&packs, &classes, &out, &extra).stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first_step = lines.by_ref().map(|l| l.unwrap()).find(|l| l.starts_with("step ")).expect("a step line");
    let still_running = child.try_wait().unwrap().is_none();
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    assert!(child.wait().unwrap().success());
    assert!(still_running, "the first step line came only at the end: {first_step}");
    assert!(first_step.contains("loss") && first_step.contains("lr") && first_step.contains("ETA"), "{first_step}");
    assert!(rest.iter().any(|l| l.starts_with("validation after epoch 1: val top-1")), "{rest:?}");
    // train.log: timestamped; the JSONL: wall-clock time, steps and validations; TensorBoard events.
    let log = std::fs::read_to_string(out.join("train.log")).unwrap();
    assert!(log.lines().all(|l| l.len() > 21 && &l[4..5] == "-" && &l[19..21] == "Z "), "{log}");
    // How steps ran, once (on the CPU: launched op by op; a CUDA run says whether its graph replays).
    assert_eq!(log.matches("steps run: eager").count(), 1, "{log}");
    let jsonl: Vec<serde_json::Value> = std::fs::read_to_string(out.join("train_log.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(jsonl.iter().all(|j| j["time"].as_f64().is_some_and(|t| t > 1.7e9)));
    assert_eq!(jsonl.iter().filter(|j| j["eval"]["top1"].is_number()).count(), 3, "one validation per epoch");
    let tags = tensorboard_tags(&out.join("tb"));
    assert!(tags.contains(&"train/loss".to_string()) && tags.contains(&"val/top1".to_string()), "{tags:?}");
}

/// The scalar tags of the event files in `dir`, checking every record's length and data CRC.
fn tensorboard_tags(dir: &Path) -> Vec<String> {
    let mut tags = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(e.unwrap().path()).unwrap();
        let mut at = 0;
        while at < bytes.len() {
            let len = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
            let crc = |b: &[u8]| froster_train::masked_crc(b);
            assert_eq!(crc(&bytes[at..at + 8]).to_le_bytes(), bytes[at + 8..at + 12]);
            let data = &bytes[at + 12..at + 12 + len];
            assert_eq!(crc(data).to_le_bytes(), bytes[at + 12 + len..at + 16 + len]);
            // Tags are length-prefixed strings under field 1 of a value: pick out the printable ones with '/'.
            let text = String::from_utf8_lossy(data);
            tags.extend(text.split(|c: char| !c.is_ascii_graphic()).filter(|s| s.contains('/')).map(str::to_string));
            at += 16 + len;
        }
    }
    tags
}

#[test]
fn missing_videos_are_counted_and_strict_refuses_them() {
    let tmp = tempfile::tempdir().unwrap();
    let (packs, classes) = setup(tmp.path());
    // Rebuild the pack with a list that also names a video that does not exist.
    let list = std::fs::read_to_string(tmp.path().join("train.csv")).unwrap() + "gone/missing.mp4,1\n";
    std::fs::write(tmp.path().join("train.csv"), list).unwrap();
    let lists = froster_pack::ListSet::read(&[tmp.path().join("train.csv")]).unwrap();
    let packs2 = tmp.path().join("pack2");
    let opts = froster_pack::BuildOptions {
        jobs: 2,
        ..froster_pack::BuildOptions::new(froster_testkit::videos_dir(), lists, &packs2)
    };
    froster_pack::build(&opts).unwrap();
    let _ = packs;
    let out = tmp.path().join("run");
    let o = train(&packs2, &classes, &out, &["--max-steps", "1"]).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("training on 24 of 25 listed (1 in failed.csv, e.g. gone/missing.mp4)"), "{text}");
    let data: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("data.json")).unwrap()).unwrap();
    assert_eq!((data["train"]["listed"].as_u64(), data["train"]["used"].as_u64()), (Some(25), Some(24)));
    assert_eq!(data["train"]["missing"][0], "gone/missing.mp4");
    let o = train(&packs2, &classes, &tmp.path().join("strict"), &["--strict"]).output().unwrap();
    assert!(!o.status.success() && stderr(&o).contains("(--strict)"), "{}", stderr(&o));
}

#[test]
fn a_resume_point_is_saved_by_wall_clock() {
    let tmp = tempfile::tempdir().unwrap();
    let (packs, classes) = setup(tmp.path());
    let out = tmp.path().join("run");
    let extra = ["--set", "TRAIN.CHECKPOINT_MINUTES=1e-9", "--set", "TRAIN.CHECKPOINT_EVERY_STEPS=0"];
    let mut child = train(&packs, &classes, &out, &extra).stdout(Stdio::null()).spawn().unwrap();
    let latest = out.join("checkpoints/resume/latest.json");
    let t0 = std::time::Instant::now();
    let mut step = 0;
    while step == 0 && t0.elapsed().as_secs() < 120 {
        let j: Option<serde_json::Value> =
            std::fs::read_to_string(&latest).ok().and_then(|t| serde_json::from_str(&t).ok());
        step = j.and_then(|j| j["position"]["step"].as_u64()).unwrap_or(0);
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let _ = child.kill();
    child.wait().unwrap();
    assert!((1..6).contains(&step), "a resume point within the first epoch (6 steps), got step {step}");
}

#[test]
fn the_references_yaml_configs_are_read() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference");
    // train_clip_B2N_k400.sh's --opts, as the reference passes them.
    let opts = "DATA.PATH_TO_DATA_DIR /ws/zs_label_db/B2N_k400 TRAIN_FILE train_1.csv VAL_FILE val.csv \
        TEST_FILE test.csv DATA.PATH_PREFIX /ws/k400 DATA.PATH_LABEL_SEPARATOR , \
        DATA.INDEX_LABEL_MAPPING_FILE /ws/zs_label_db/B2N_k400/train_rephrased.json TRAIN.ENABLE True \
        OUTPUT_DIR /ws/basetraining/B2N_k400_froster TRAIN.BATCH_SIZE 32 TEST.BATCH_SIZE 240 \
        TEST.NUM_ENSEMBLE_VIEWS 3 TEST.NUM_SPATIAL_CROPS 1 NUM_GPUS 8 SOLVER.MAX_EPOCH 12 SOLVER.WARMUP_EPOCHS 2.0 \
        SOLVER.BASE_LR 3.33e-6 SOLVER.WARMUP_START_LR 3.33e-8 SOLVER.COSINE_END_LR 3.33e-8 \
        TRAIN.MIXED_PRECISION True DATA.DECODING_BACKEND pyav MODEL.NUM_CLASSES 200 MIXUP.ENABLE False \
        AUG.ENABLE False AUG.NUM_SAMPLE 1 TRAIN.EVAL_PERIOD 1 TRAIN.CHECKPOINT_PERIOD 1 \
        MODEL.LOSS_FUNC soft_cross_entropy TRAIN.LINEAR_CONNECT_CLIMB False TRAIN.CLIP_ORI_PATH /ws/ViT-B-16.pt \
        TRAIN.LINEAR_CONNECT_LOSS_RATIO 0.0 MODEL.RAW_MODEL_DISTILLATION True MODEL.KEEP_RAW_MODEL True \
        MODEL.DISTILLATION_RATIO 2.0";
    let o = bin()
        .arg("--config")
        .arg(dir.join("TemporalCLIP_vitb16_8x16_STAdapter_K400.yaml"))
        .arg("--opts")
        .args(opts.split_whitespace())
        .arg("--print-config")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let cfg: toml::Value = toml::from_str(&String::from_utf8_lossy(&o.stdout)).unwrap();
    let get = |k: &str| k.split('.').fold(&cfg, |v, p| &v[p]).clone();
    assert_eq!(get("TRAIN.BATCH_SIZE").as_integer(), Some(32));
    assert_eq!(get("TRAIN.LIST").as_str(), Some("train_1"));
    assert_eq!(get("TRAIN.EVAL_LIST").as_str(), Some("val"));
    assert_eq!(get("TRAIN.EVAL_PERIOD").as_integer(), Some(1));
    assert_eq!(get("SOLVER.MAX_EPOCH").as_integer(), Some(12));
    assert_eq!(get("SOLVER.COSINE_END_LR").as_float(), Some(3.33e-8));
    assert_eq!(get("MODEL.CLIP").as_str(), Some("/ws/ViT-B-16.pt"));
    assert_eq!(get("DATA.CLASSES").as_str(), Some("/ws/zs_label_db/B2N_k400/train_rephrased.json"));
    assert_eq!(get("MODEL.DISTILLATION_RATIO").as_float(), Some(2.0));
    assert_eq!(get("MODEL.PRECISION").as_str(), Some("auto"));
    let notes = stderr(&o);
    for k in [
        "NUM_GPUS = 8",
        "AUG.NUM_SAMPLE",
        "BN.USE_PRECISE_STATS",
        "DATA.PATH_PREFIX",
        "TEST_FILE",
        "TRAIN.LINEAR_CONNECT_CLIMB",
    ] {
        assert!(notes.contains(k), "no note of {k}:\n{notes}");
    }
    // The cross-dataset config alone: the YAML's own values; RAW_MODEL_DISTILLATION False turns the teacher off.
    let o = bin()
        .arg("--config")
        .arg(dir.join("TemporalCLIP_vitb16_8x16_STAdapter.yaml"))
        .args(["--print-config", "--set", "MODEL.CLIP=random"])
        .output()
        .unwrap();
    let cfg: toml::Value = toml::from_str(&String::from_utf8_lossy(&o.stdout)).unwrap();
    assert_eq!(cfg["SOLVER"]["MAX_EPOCH"].as_integer(), Some(22));
    assert_eq!(cfg["TRAIN"]["BATCH_SIZE"].as_integer(), Some(64));
    assert_eq!(cfg["TRAIN"]["EVAL_PERIOD"].as_integer(), Some(5));
    assert_eq!(cfg["MODEL"]["DISTILLATION_RATIO"].as_float(), Some(0.0));
    // What cannot be honoured is refused, with the reason.
    let yaml = dir.join("TemporalCLIP_vitb16_8x16_STAdapter_K400.yaml");
    for (k, v, says) in
        [("MODEL.TEMPORAL_MODELING_TYPE", "divided_st", "expand_temporal_view"), ("AUG.ENABLE", "True", "AUG.ENABLE")]
    {
        let o = bin().arg("--config").arg(&yaml).args(["--print-config", "--opts", k, v]).output().unwrap();
        assert!(!o.status.success() && stderr(&o).contains(says), "{}", stderr(&o));
    }
}
