//! Rule 1: the reference's own lists in ROOT (`train*.csv`, `val*.csv`, `test*.csv` of `path,label` lines).
use super::{missing, read_text, unlisted, videos_under, Dataset, Layout, Result};
use crate::lists::{parse_lenient, NamedList};
use froster_loader::format::Failure;
use froster_loader::{list_name, parse_list};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub fn find(root: &Path) -> Result<Option<Dataset>> {
    let files = candidates(root)?;
    if files.is_empty() {
        return Ok(None);
    }
    let mut lists = Vec::new();
    let mut failed = Vec::new();
    for file in &files {
        let (list, bad) = read_lenient(file)?;
        lists.push(list);
        failed.extend(bad);
    }
    let mut members: BTreeMap<String, Vec<(String, i64)>> = BTreeMap::new();
    for l in &lists {
        for (p, label) in &l.items {
            members.entry(p.clone()).or_default().push((l.name.clone(), *label));
        }
    }
    for (path, lists) in &members {
        if !root.join(path).exists() {
            let names: Vec<&str> = lists.iter().map(|(n, _)| n.as_str()).collect();
            failed.push(missing(path, format!("file not found (listed in {})", names.join(", ")), lists.clone()));
        }
    }
    for l in &mut lists {
        l.items.retain(|(p, _)| root.join(p).exists());
    }
    let on_disk = videos_under(root, root, 4)?;
    Ok(Some(Dataset {
        layout: Layout::ReferenceLists,
        root: root.into(),
        sources: files.iter().map(|f| f.file_name().unwrap_or_default().to_string_lossy().into_owned()).collect(),
        unlisted: unlisted(&on_disk, &lists),
        lists,
        failed,
        classes: None,
        labels: "the numbers in the lists".into(),
        notes: vec![],
    }))
}

/// `train*.csv`, `val*.csv` and `test*.csv` in `root` whose first line reads as `path,label`.
fn candidates(root: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(root).map_err(super::io_err(root))? {
        let path = e.map_err(super::io_err(root))?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy().to_ascii_lowercase();
        let named = ["train", "val", "test"].iter().any(|p| name.starts_with(p)) && name.ends_with(".csv");
        if named && path.is_file() && first_line_is_list(&path)? {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

fn first_line_is_list(path: &Path) -> Result<bool> {
    let text = read_text(path)?;
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    Ok(parse_list(first).is_ok_and(|v| !v.is_empty()))
}

fn read_lenient(file: &Path) -> Result<(NamedList, Vec<Failure>)> {
    let (items, bad) = parse_lenient(&read_text(file)?, file);
    Ok((NamedList { name: list_name(file), items }, bad))
}
