//! Rule 4: HMDB51: `<class>/*.avi` with the split files `<class>_test_split<N>.txt` (`video.avi 1` per line:
//! 1 = train, 2 = test, 0 = unused). Labels are the sorted class names, as the reference's HMDB lists.
use super::names::readable;
use super::{missing, read_text, subfolders, unlisted, videos_under, Dataset, DiscoverError, Layout, Result};
use crate::lists::NamedList;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

pub fn find(root: &Path, split: u32) -> Result<Option<Dataset>> {
    let suffix = format!("_test_split{split}.txt");
    let files = split_files(root, &suffix)?;
    if files.is_empty() {
        return Ok(None);
    }
    let classes: Vec<String> = files.keys().cloned().collect();
    let videos = videos_root(root, &classes)?;
    let on_disk = videos_under(&videos, &videos, 2)?;
    let present: HashSet<&str> = on_disk.iter().map(String::as_str).collect();
    let (mut train, mut test, mut failed, mut unused) = (Vec::new(), Vec::new(), Vec::new(), HashSet::new());
    for (class, (label, file)) in classes.iter().zip(files.values().enumerate()) {
        for (n, line) in read_text(file)?.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let mut f = line.split_whitespace();
            let (Some(name), Some(flag)) = (f.next(), f.next()) else {
                return Err(bad(file, n + 1, line));
            };
            let rel = format!("{class}/{name}");
            let list = match flag {
                "1" => &mut train,
                "2" => &mut test,
                "0" => {
                    unused.insert(rel);
                    continue;
                }
                _ => return Err(bad(file, n + 1, line)),
            };
            let list_name = if flag == "1" { "train" } else { "test" };
            if present.contains(rel.as_str()) {
                list.push((rel, label as i64));
            } else {
                let reason = format!("listed in {}, not on disk", super::relative(root, file));
                failed.push(missing(&rel, reason, vec![(list_name.into(), label as i64)]));
            }
        }
    }
    let lists = vec![NamedList { name: "train".into(), items: train }, NamedList { name: "test".into(), items: test }];
    let unlisted: Vec<String> = unlisted(&on_disk, &lists).into_iter().filter(|p| !unused.contains(p)).collect();
    let notes = match unused.len() {
        0 => vec![],
        n => vec![format!("{n} videos are marked unused (0) in split {split}: not packed")],
    };
    Ok(Some(Dataset {
        layout: Layout::Hmdb51 { split },
        root: videos,
        sources: vec![format!("{} files *{suffix}", files.len())],
        unlisted,
        lists,
        failed,
        classes: Some(classes.iter().map(|c| readable(c)).collect()),
        labels: format!("sorted class names of the split files ({} classes)", classes.len()),
        notes,
    }))
}

/// Per class, its split file, from ROOT or any folder directly inside it.
fn split_files(root: &Path, suffix: &str) -> Result<BTreeMap<String, PathBuf>> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![root.to_path_buf()];
    dirs.extend(subfolders(root)?.into_iter().map(|d| root.join(d)));
    for dir in dirs {
        for e in std::fs::read_dir(&dir).map_err(super::io_err(&dir))?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(class) = name.strip_suffix(suffix) {
                out.entry(class.to_string()).or_insert(e.path());
            }
        }
    }
    Ok(out)
}

/// ROOT when it holds the class folders, else the folder inside it that does.
fn videos_root(root: &Path, classes: &[String]) -> Result<PathBuf> {
    let holds = |d: &Path| classes.iter().any(|c| d.join(c).is_dir());
    if holds(root) {
        return Ok(root.into());
    }
    let found = subfolders(root)?.into_iter().map(|d| root.join(d)).find(|d| holds(d));
    found.ok_or_else(|| DiscoverError::Annotation {
        path: root.into(),
        reason: format!("HMDB51 split files found, but no class folder (e.g. {}/) beside them", classes[0]),
    })
}

fn bad(path: &Path, n: usize, line: &str) -> DiscoverError {
    DiscoverError::Annotation {
        path: path.into(),
        reason: format!("line {n} '{}': expected 'video.avi 0|1|2'", line.trim()),
    }
}
