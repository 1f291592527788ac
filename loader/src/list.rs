//! The reference's list format: `relative/path.ext,label` per line.
use crate::error::{io_err, Error, Result};
use std::path::Path;

/// Parses a list file into (path, label) pairs. Blank lines are skipped; anything else malformed is an error
/// naming the line.
pub fn read_list(path: &Path) -> Result<Vec<(String, i64)>> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    parse_list(&text).map_err(|(line, reason)| Error::BadList { path: path.into(), line, reason })
}

/// Parses list text; a malformed line is `(line number, reason)`.
pub fn parse_list(text: &str) -> std::result::Result<Vec<(String, i64)>, (usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (p, l) = line.rsplit_once(',').ok_or((i + 1, format!("expected 'path,label', got '{line}'")))?;
        let label = l.trim().parse::<i64>().map_err(|_| (i + 1, format!("label '{}' is not an integer", l.trim())))?;
        if label < 0 {
            return Err((i + 1, format!("label {label} is negative")));
        }
        if p.trim().is_empty() {
            return Err((i + 1, "the path is empty".into()));
        }
        out.push((p.trim().to_string(), label));
    }
    Ok(out)
}

/// The name a list is kept under in a pack: its file stem (`train_1.csv` -> `train_1`).
pub fn list_name(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "list".into())
}
