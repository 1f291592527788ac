//! Rule 2: Kinetics as its downloaders leave it: `train/`, `val/`, `test/` folders of videos (flat or in
//! `<class>/` folders) named `<youtube_id>_<start:06>_<end:06>.mp4` or `<youtube_id>.mp4`, plus the annotation
//! CSVs (`label,youtube_id,time_start,time_end,split`) in ROOT or ROOT/annotations.
use super::names::{index_by_key, key, kinetics_map};
use super::{csv_fields, missing, read_text, split_name, subfolders, unlisted, videos_under};
use super::{Dataset, DiscoverError, Layout, Result};
use crate::lists::NamedList;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// One annotation row.
struct Row {
    label: Option<String>,
    youtube_id: String,
    split: &'static str,
}

pub fn find(root: &Path) -> Result<Option<Dataset>> {
    let files = annotation_files(root)?;
    let split_dirs: Vec<(String, &'static str)> =
        subfolders(root)?.into_iter().filter_map(|d| split_name(&d).map(|s| (d, s))).collect();
    if files.is_empty() || split_dirs.is_empty() {
        return Ok(None);
    }
    let mut rows = Vec::new();
    for f in &files {
        rows.extend(read_rows(f)?);
    }
    let mut on_disk = Vec::new();
    let mut by_id: HashMap<(&'static str, String), String> = HashMap::new();
    for (dir, split) in &split_dirs {
        for rel in videos_under(root, &root.join(dir), 2)? {
            by_id.entry((*split, youtube_id(&rel))).or_insert_with(|| rel.clone());
            on_disk.push(rel);
        }
    }
    let names: BTreeSet<String> = rows.iter().filter_map(|r| r.label.clone()).collect();
    let (labels, classes) = match kinetics_map(&names, 0.0) {
        Some((title, classes)) => (format!("{title} ({} classes)", classes.len()), classes),
        None => ("sorted class names of the annotations".to_string(), names.iter().cloned().collect()),
    };
    let index = index_by_key(&classes);
    let mut lists: BTreeMap<&'static str, Vec<(String, i64)>> = BTreeMap::new();
    let mut failed = Vec::new();
    let mut unlabelled = Vec::new();
    for r in &rows {
        let Some(label) = &r.label else {
            unlabelled.extend(by_id.get(&(r.split, r.youtube_id.clone())).cloned());
            continue;
        };
        let class = index[&key(label)];
        match by_id.get(&(r.split, r.youtube_id.clone())) {
            Some(rel) => {
                check_folder(rel, label)?;
                lists.entry(r.split).or_default().push((rel.clone(), class));
            }
            None => failed.push(missing(
                &r.youtube_id,
                format!("annotated as {} '{label}', no video file for it in the {} folder", r.split, r.split),
                vec![(r.split.to_string(), class)],
            )),
        }
    }
    let lists: Vec<NamedList> = lists.into_iter().map(|(name, items)| NamedList { name: name.into(), items }).collect();
    let mut notes = Vec::new();
    let unlabelled_rows = rows.iter().filter(|r| r.label.is_none()).count();
    if unlabelled_rows > 0 {
        notes.push(format!("{unlabelled_rows} annotated videos have no label (e.g. a test split): not packed"));
    }
    let unlisted: Vec<String> = unlisted(&on_disk, &lists).into_iter().filter(|p| !unlabelled.contains(p)).collect();
    let mut sources: Vec<String> = files.iter().map(|f| super::relative(root, f)).collect();
    sources.extend(split_dirs.iter().map(|(d, _)| format!("{d}/")));
    Ok(Some(Dataset {
        layout: Layout::Kinetics,
        root: root.into(),
        sources,
        unlisted,
        lists,
        failed,
        classes: Some(classes),
        labels,
        notes,
    }))
}

/// CSVs in ROOT and ROOT/annotations whose header names a `youtube_id` column.
fn annotation_files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for dir in [root.to_path_buf(), root.join("annotations")] {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().is_some_and(|x| x == "csv") && path.is_file() {
                let text = read_text(&path)?;
                if text.lines().next().is_some_and(|h| csv_fields(h).iter().any(|f| f == "youtube_id")) {
                    out.push(path);
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

fn read_rows(path: &Path) -> Result<Vec<Row>> {
    let text = read_text(path)?;
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, h)| csv_fields(h)).unwrap_or_default();
    let col = |name: &str| header.iter().position(|h| h == name);
    let (label, id, split) = (col("label"), col("youtube_id"), col("split"));
    let file_split = split_name(&crate::discover::file_stem(path));
    let mut rows = Vec::new();
    for (n, line) in lines.filter(|(_, l)| !l.trim().is_empty()) {
        let f = csv_fields(line);
        let bad = |reason: String| DiscoverError::Annotation {
            path: path.into(),
            reason: format!("line {}: {reason}", n + 1),
        };
        let youtube_id =
            id.and_then(|i| f.get(i)).filter(|s| !s.is_empty()).ok_or_else(|| bad("no youtube_id".into()))?;
        let split_value = split.and_then(|i| f.get(i)).map(String::as_str).unwrap_or("");
        let split = split_name(split_value).or(file_split).ok_or_else(|| {
            bad(format!("split '{split_value}' is not train/val/test, and the file name does not say"))
        })?;
        let label = label.and_then(|i| f.get(i)).filter(|s| !s.is_empty()).cloned();
        rows.push(Row { label, youtube_id: youtube_id.clone(), split });
    }
    Ok(rows)
}

/// `abc_000010_000020.mp4` -> `abc` (ids may hold `_` themselves); `abc.mp4` -> `abc`.
fn youtube_id(rel: &str) -> String {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    let parts: Vec<&str> = stem.rsplitn(3, '_').collect();
    let is_time = |s: &str| s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit());
    if parts.len() == 3 && is_time(parts[0]) && is_time(parts[1]) {
        parts[2].to_string()
    } else {
        stem.to_string()
    }
}

/// A video kept in a class folder must be in its annotated class's folder.
fn check_folder(rel: &str, label: &str) -> Result<()> {
    let parts: Vec<&str> = rel.split('/').collect();
    if parts.len() >= 3 {
        let folder = parts[parts.len() - 2];
        if key(folder) != key(label) {
            return Err(DiscoverError::Conflict {
                path: rel.into(),
                reason: format!("it is in folder '{folder}' but the annotations say '{label}'"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::youtube_id;

    #[test]
    fn youtube_ids_from_file_names() {
        assert_eq!(youtube_id("train/abseiling/-3B32lodo2M_000059_000069.mp4"), "-3B32lodo2M");
        assert_eq!(youtube_id("train/a/x_y_000001_000011.mp4"), "x_y");
        assert_eq!(youtube_id("val/ZVdAl-yh9m0.mp4"), "ZVdAl-yh9m0");
        assert_eq!(youtube_id("val/a_1_2.mp4"), "a_1_2");
    }
}
