//! Golden case `sampling`: the reference's view sampling, on ideal streams and on the real videos.
use froster_loader::*;
use froster_loader::{ClipSource, VideoSource};
use froster_testkit::{golden_dir, golden_json as json, videos_dir};
use serde_json::Value;
use std::path::Path;

fn config(settings: &Value) -> SamplingConfig {
    SamplingConfig {
        num_frames: settings["NUM_FRAMES"].as_u64().unwrap() as usize,
        sampling_rate: settings["SAMPLING_RATE"].as_u64().unwrap() as usize,
        target_fps: settings["TARGET_FPS"].as_f64().unwrap(),
        num_views: settings["NUM_ENSEMBLE_VIEWS"].as_u64().unwrap() as usize,
        num_crops: 1,
        use_offset: settings["USE_OFFSET_SAMPLING"].as_bool().unwrap_or(true),
    }
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect()
}

/// N and the ticks per frame from a key like `N300_fps29.970_tb1001` (512 ticks unless named).
fn key_stream(key: &str) -> (usize, f64) {
    let n = key.split('_').next().unwrap()[1..].parse().unwrap();
    let tb = key.split('_').find_map(|p| p.strip_prefix("tb")).map(|t| t.parse().unwrap()).unwrap_or(512.0);
    (n, tb)
}

/// fps recovered from the entry's resample clip size (SR * NF / TARGET_FPS * fps).
fn entry_fps(e: &Value, cfg: &SamplingConfig) -> f64 {
    let c2 = e["clip_size_resample"].as_f64().or(e["clip_size"].as_f64()).unwrap();
    c2 * cfg.target_fps / (cfg.sampling_rate * cfg.num_frames) as f64
}

fn check_selective(section: &Value, cfg: &SamplingConfig, what: &str) -> usize {
    let mut n = 0;
    for (key, entries) in section.as_object().unwrap() {
        let (frames, tpf) = key_stream(key);
        for e in entries.as_array().unwrap() {
            let stream =
                StreamInfo { frames, fps: entry_fps(e, cfg), ticks_per_frame: tpf, pts: None, uncounted: false };
            let start = match e.get("view") {
                Some(v) => Start::View(v.as_u64().unwrap() as usize),
                None => Start::Train(e["u"].as_f64().unwrap()),
            };
            let w = sample(&stream, cfg, start);
            assert_eq!(w.indices, usizes(&e["frame_indices"]), "{what} {key} {start:?}");
            assert!((w.start_idx - e["start_idx"].as_f64().unwrap()).abs() < 1e-9, "{what} {key} start");
            let dec = usizes(&e["decoded_frames"]);
            assert_eq!((w.decoded.0, w.decoded.1), (dec[0], dec[1]), "{what} {key} {start:?} decoded window");
            n += 1;
        }
    }
    n
}

#[test]
fn golden_sampling() {
    let j = json("sampling/sampling.json");
    let cfg = config(&j["settings"]);
    let mut n = check_selective(&j["test"], &cfg, "test") + check_selective(&j["train"], &cfg, "train");
    n += check_selective(&j["extra_timebase"], &cfg, "extra_timebase");
    for (key, variants) in j["decode_all_test"].as_object().unwrap() {
        let (frames, _) = key_stream(key);
        for (variant, entries) in variants.as_object().unwrap() {
            let use_offset = variant == "use_offset_true";
            for e in entries.as_array().unwrap() {
                let start = Start::View(e["view"].as_u64().unwrap() as usize);
                let w = sample_decode_all(frames, entry_fps(e, &cfg), &cfg, start, use_offset);
                assert_eq!(w.indices, usizes(&e["frame_indices"]), "decode_all {key} {variant} {start:?}");
                n += 1;
            }
        }
    }
    for (key, entries) in j["decode_all_train"].as_object().unwrap() {
        let (frames, _) = key_stream(key);
        for e in entries.as_array().unwrap() {
            let w = sample_decode_all(
                frames,
                entry_fps(e, &cfg),
                &cfg,
                Start::Train(e["u"].as_f64().unwrap()),
                cfg.use_offset,
            );
            assert_eq!(w.indices, usizes(&e["frame_indices"]), "decode_all_train {key}");
            n += 1;
        }
    }
    for h in j["helpers"].as_array().unwrap() {
        match h["fn"].as_str().unwrap() {
            "get_start_end_idx" => {
                let idx = h["clip_idx"].as_i64().unwrap();
                let start = if idx < 0 { Start::Train(0.0) } else { Start::View(idx as usize) };
                let (s, e, p) = get_start_end_idx(
                    h["video_size"].as_f64().unwrap(),
                    h["clip_size"].as_f64().unwrap(),
                    start,
                    h["num_clips_uniform"].as_u64().unwrap() as usize,
                    h["use_offset"].as_bool().unwrap(),
                );
                if idx >= 0 {
                    for (got, k) in [(s, "start"), (e, "end"), (p, "position")] {
                        assert!((got - h[k].as_f64().unwrap()).abs() < 1e-9, "helper {h}: {k}");
                    }
                }
            }
            "temporal_sampling" => {
                let lin = linspace_f32(
                    h["start"].as_f64().unwrap(),
                    h["end"].as_f64().unwrap(),
                    h["num_samples"].as_u64().unwrap() as usize,
                );
                let want: Vec<f32> =
                    h["linspace_float32"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
                assert_eq!(lin, want, "linspace {h}");
                let idx = temporal_indices(
                    h["start"].as_f64().unwrap(),
                    h["end"].as_f64().unwrap(),
                    h["num_available"].as_u64().unwrap() as usize,
                    h["num_samples"].as_u64().unwrap() as usize,
                );
                assert_eq!(idx, usizes(&h["indices"]), "temporal_sampling {h}");
            }
            _ => {}
        }
        n += 1;
    }
    assert!(n > 50, "only {n} sampling cases checked");
}

/// The reference on the real videos. MP4 windows must match exactly; for AVI the reference takes frames in decode
/// order and ignores the first pts of 1, which we deliberately do not copy (docs), so indices may differ by one.
#[test]
fn golden_sampling_real_videos() {
    let j = json("sampling/sampling_real_videos.json");
    let cfg = config(&j["settings"]);
    let base = golden_dir().join("../..");
    let mut checked = 0;
    for (rel, v) in j["videos"].as_object().unwrap() {
        // Beside the golden folder as the reference wrote it, else by name in the test videos' folder (a golden
        // folder elsewhere, FROSTER_DATA_VIDEOS).
        let by_name = Path::new(rel).file_name().map(|n| videos_dir().join(n));
        let Some(path) = [Some(base.join(rel)), by_name].into_iter().flatten().find(|p| p.exists()) else {
            continue;
        };
        let src =
            VideoSource::new(path.parent().unwrap(), vec![(path.file_name().unwrap().to_string_lossy().into(), 0)]);
        let stream = src.stream(0).unwrap();
        assert_eq!(stream.frames as u64, v["stream"]["frames"].as_u64().unwrap(), "{rel}: frames");
        let exact = rel.ends_with(".mp4");
        let runs =
            v["test_views"].as_array().unwrap().iter().map(|e| (Start::View(e["view"].as_u64().unwrap() as usize), e));
        let train = v["train_u"].as_array().unwrap().iter().map(|e| (Start::Train(e["u"].as_f64().unwrap()), e));
        for (start, e) in runs.chain(train) {
            let got = sample(&stream, &cfg, start).indices;
            let want = usizes(&e["frame_indices"]);
            if exact {
                assert_eq!(got, want, "{rel} {start:?}");
            } else {
                assert!(
                    got.iter().zip(&want).all(|(a, b)| a.abs_diff(*b) <= 1),
                    "{rel} {start:?}: {got:?} vs {want:?}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 0, "no real video found beside the golden folder");
}
