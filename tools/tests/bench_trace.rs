//! froster-bench --trace on the CPU: the steps run under libtorch's profiler and the summary names the ops that
//! ran (the CPU stands in for a device here: the GPU script reads the same fields for the kernels).
use std::process::Command;

fn bench(what: &str) -> serde_json::Value {
    let o = Command::new(env!("CARGO_BIN_EXE_froster-bench"))
        .args([what, "--arch", "tiny", "--batch", "2", "--frames", "4", "--classes", "5", "--steps", "2"])
        .args(["--device", "cpu", "--trace"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn traced_steps_say_where_the_time_went() {
    for what in ["train-step", "eval-step"] {
        let r = bench(what);
        let t = &r["trace"];
        assert_eq!((t["steps"].as_u64(), t["of"].as_str()), (Some(2), Some("cpu ops")), "{what}: {t}");
        let (wall, busy) = (t["wall_ms_per_step"].as_f64().unwrap(), t["busy_ms_per_step"].as_f64().unwrap());
        assert!(busy > 0.0 && busy <= wall * 1.01, "{what}: busy {busy} ms of a {wall} ms step");
        let idle = t["idle"].as_f64().unwrap();
        assert!((idle - (1.0 - busy / wall).max(0.0)).abs() < 1e-9, "{what}: {t}");
        // The step's ops by name, with ms and calls per step, longest first.
        let top = t["top"].as_array().unwrap();
        assert!(!top.is_empty() && top.len() <= 15, "{what}: {t}");
        assert!(top.iter().any(|r| r[0].as_str().unwrap().starts_with("aten::")), "{what}: {t}");
        assert!(top.iter().all(|r| r[2].as_f64().unwrap() > 0.0), "{what}: {t}");
        let ms: Vec<f64> = top.iter().map(|r| r[1].as_f64().unwrap()).collect();
        assert!(ms.windows(2).all(|w| w[0] >= w[1]), "{what}: {ms:?}");
    }
}
