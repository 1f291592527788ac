//! Class names: the reference's rephrased JSON (`{"0": "Name: description", ...}`) or a text file of one name
//! a line; a pack's own `classes.json` has the JSON shape.
use crate::error::{io_err, Error, Result};
use std::path::Path;

/// Class strings in id order. A JSON file must number its classes 0..n with no gap; a text file gives one class
/// a line (blank lines skipped).
pub fn read_classes(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let bad = |reason: String| Error::BadClasses { path: path.into(), reason };
    let classes: Vec<String> = if path.extension().is_some_and(|e| e == "json") {
        let map: std::collections::BTreeMap<String, String> = serde_json::from_str(&text)
            .map_err(|e| bad(format!("expected {{\"0\": \"Name: description\", ...}}: {e}")))?;
        let mut rows: Vec<(i64, String)> = Vec::with_capacity(map.len());
        for (k, v) in map {
            let id = k.parse().map_err(|_| bad(format!("class id '{k}' is not an integer")))?;
            rows.push((id, v));
        }
        rows.sort();
        if let Some((i, (id, _))) = rows.iter().enumerate().find(|(i, (id, _))| *id != *i as i64) {
            return Err(bad(format!("class ids must be 0..{} without gaps; id {id} is at position {i}", rows.len())));
        }
        rows.into_iter().map(|(_, v)| v).collect()
    } else {
        text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()
    };
    if classes.is_empty() {
        return Err(bad("no classes".into()));
    }
    Ok(classes)
}
