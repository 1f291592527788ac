//! `froster-tools b2n-table`: rows of b2n.json runs become mean ± std (population) of Base, Novel and HM, in
//! Markdown, JSON and a PNG; a missing run is an error naming its file.
mod common;
use common::*;
use std::path::Path;

fn run(dir: &Path, base: f64, novel: f64) {
    std::fs::create_dir_all(dir).unwrap();
    let hm = 2.0 * base * novel / (base + novel);
    std::fs::write(dir.join("b2n.json"), serde_json::json!({"base": base, "novel": novel, "hm": hm}).to_string())
        .unwrap();
}

#[test]
fn the_table_is_mean_and_std_over_seeds() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    run(&t.join("zs"), 60.0, 50.0);
    run(&t.join("ft1"), 90.0, 20.0);
    run(&t.join("ft2"), 80.0, 40.0);
    let out = t.join("table");
    let text = ok(bin("froster-tools")
        .args(["b2n-table", "--row"])
        .arg(format!("zero-shot={}", t.join("zs").display()))
        .arg("--row")
        .arg(format!("fine-tune={},{}", t.join("ft1").display(), t.join("ft2").display()))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap());
    assert!(text.contains("| zero-shot | 60.00 ± 0.00 | 50.00 ± 0.00 |"), "{text}");
    assert!(text.contains("| fine-tune | 85.00 ± 5.00 | 30.00 ± 10.00 |"), "{text}");
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("b2n_table.json")).unwrap()).unwrap();
    let rows = j["rows"].as_array().unwrap();
    assert_eq!((rows[0]["name"].as_str(), rows[1]["seeds"].as_u64()), (Some("zero-shot"), Some(2)));
    // HM: each run's, then averaged (32.7273 and 53.3333).
    let hm = rows[1]["hm"]["mean"].as_f64().unwrap();
    assert!((hm - (2.0 * 90.0 * 20.0 / 110.0 + 2.0 * 80.0 * 40.0 / 120.0) / 2.0).abs() < 1e-9, "{hm}");
    assert!(std::fs::read(out.join("b2n_table.png")).unwrap().starts_with(b"\x89PNG"));
    assert!(std::fs::read_to_string(out.join("b2n_table.md"))
        .unwrap()
        .contains("| method | Base | Novel | HM | seeds |"));
    let o = bin("froster-tools")
        .args(["b2n-table", "--row"])
        .arg(format!("x={}", t.join("none").display()))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("b2n.json"));
}
