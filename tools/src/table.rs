//! The base-to-novel table over seeds: rows of `froster-eval protocol b2n` results (each run's `b2n.json`),
//! as mean and (population) standard deviation of Base, Novel and HM, written as Markdown, JSON and a PNG.
use crate::error::{io_err, Error, Result};
use crate::evaluate::mean_std;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Mean and standard deviation over seeds.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Stat {
    pub mean: f64,
    pub std: f64,
}

/// One row: a method over its seeds. HM is each run's harmonic mean, then averaged.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Row {
    pub name: String,
    pub base: Stat,
    pub novel: Stat,
    pub hm: Stat,
    pub seeds: usize,
}

fn stat(v: &[f64]) -> Stat {
    let (mean, std) = mean_std(v);
    Stat { mean, std }
}

/// Reads `<dir>/b2n.json` of every run of every row.
pub fn rows(spec: &[(String, Vec<PathBuf>)]) -> Result<Vec<Row>> {
    spec.iter()
        .map(|(name, dirs)| {
            let mut v = (Vec::new(), Vec::new(), Vec::new());
            for d in dirs {
                let path = d.join("b2n.json");
                let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
                let j: serde_json::Value =
                    serde_json::from_str(&text).map_err(|e| Error::Argument(format!("{}: {e}", path.display())))?;
                let get = |k: &str| {
                    j[k].as_f64().ok_or_else(|| Error::Argument(format!("{}: no number '{k}'", path.display())))
                };
                v.0.push(get("base")?);
                v.1.push(get("novel")?);
                v.2.push(get("hm")?);
            }
            if dirs.is_empty() {
                return Err(Error::Argument(format!("row '{name}' has no run")));
            }
            Ok(Row { name: name.clone(), base: stat(&v.0), novel: stat(&v.1), hm: stat(&v.2), seeds: dirs.len() })
        })
        .collect()
}

/// The rows as a Markdown table.
pub fn markdown(rows: &[Row]) -> String {
    let f = |s: &Stat| format!("{:.2} ± {:.2}", s.mean, s.std);
    let mut t = String::from("| method | Base | Novel | HM | seeds |\n|---|---|---|---|---|\n");
    for r in rows {
        t += &format!("| {} | {} | {} | {} | {} |\n", r.name, f(&r.base), f(&r.novel), f(&r.hm), r.seeds);
    }
    t
}

/// `<out>/b2n_table.md`, `.json` and `.png` (Base, Novel and HM means of every row as bars).
pub fn write(out: &Path, rows: &[Row]) -> Result<()> {
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    let md = out.join("b2n_table.md");
    std::fs::write(&md, markdown(rows)).map_err(io_err(&md))?;
    let json = out.join("b2n_table.json");
    let text = serde_json::to_string_pretty(&serde_json::json!({ "rows": rows })).unwrap_or_default();
    std::fs::write(&json, text).map_err(io_err(&json))?;
    // Grouped by metric, the rows in their order within each, so that methods compare side by side.
    let metric = |k: &str, r: &Row| match k {
        "Base" => r.base,
        "Novel" => r.novel,
        _ => r.hm,
    };
    let bars: Vec<crate::chart::ClassRow> = ["Base", "Novel", "HM"]
        .iter()
        .flat_map(|k| rows.iter().map(move |r| (format!("{k}: {}", r.name), metric(k, r).mean, r.seeds)))
        .collect();
    let subtitle = "top-1 %, mean over seeds (n = seeds; bar: 0-100%)";
    crate::chart::bars(&out.join("b2n_table.png"), "base-to-novel", subtitle, &bars)
}
