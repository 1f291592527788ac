//! Rule 3: UCF101: `UCF-101/<Class>/v_<Class>_gXX_cYY.avi` with `ucfTrainTestlist/{classInd.txt,
//! trainlist0N.txt, testlist0N.txt}`. Labels are classInd's numbers less one, as the reference's lists.
use super::names::readable;
use super::{missing, read_text, unlisted, videos_under, Dataset, DiscoverError, Layout, Result};
use crate::lists::NamedList;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub fn find(root: &Path, split: u32) -> Result<Option<Dataset>> {
    let Some(lists_dir) =
        [root.join("ucfTrainTestlist"), root.to_path_buf()].into_iter().find(|d| d.join("classInd.txt").is_file())
    else {
        return Ok(None);
    };
    let videos = [root.join("UCF-101"), root.join("UCF101"), root.to_path_buf()]
        .into_iter()
        .find(|d| d.is_dir())
        .unwrap_or_else(|| root.to_path_buf());
    let class_file = lists_dir.join("classInd.txt");
    let classes = read_class_ind(&class_file)?;
    let by_folder: HashMap<String, i64> =
        classes.iter().enumerate().map(|(i, c)| (c.to_ascii_lowercase(), i as i64)).collect();
    let on_disk = videos_under(&videos, &videos, 2)?;
    // The lists' case differs from the folders' in places (HandStandPushups vs HandstandPushups).
    let disk: HashMap<String, &String> = on_disk.iter().map(|p| (p.to_ascii_lowercase(), p)).collect();
    let mut lists = Vec::new();
    let mut failed = Vec::new();
    let mut sources = vec![super::relative(root, &class_file)];
    for (name, file) in [("train", format!("trainlist{split:02}.txt")), ("test", format!("testlist{split:02}.txt"))] {
        let path = lists_dir.join(&file);
        if !path.is_file() {
            return Err(DiscoverError::Annotation { path, reason: format!("missing: split {split} needs it") });
        }
        sources.push(super::relative(root, &path));
        let mut items = Vec::new();
        for (n, line) in read_text(&path)?.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let (rel, class) = parse_line(&path, n + 1, line, &by_folder)?;
            match disk.get(&rel.to_ascii_lowercase()) {
                Some(p) => items.push(((*p).clone(), class)),
                None => {
                    failed.push(missing(&rel, format!("listed in {file}, not on disk"), vec![(name.into(), class)]))
                }
            }
        }
        lists.push(NamedList { name: name.into(), items });
    }
    Ok(Some(Dataset {
        layout: Layout::Ucf101 { split },
        root: videos,
        sources,
        unlisted: unlisted(&on_disk, &lists),
        lists,
        failed,
        classes: Some(classes.iter().map(|c| readable(c)).collect()),
        labels: format!("classInd.txt ({} classes), numbered from 0", classes.len()),
        notes: vec![],
    }))
}

/// `1 ApplyEyeMakeup` per line: the class names in label order.
fn read_class_ind(path: &Path) -> Result<Vec<String>> {
    let mut classes: Vec<(i64, String)> = Vec::new();
    for (n, line) in read_text(path)?.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let mut f = line.split_whitespace();
        let (Some(i), Some(name)) = (f.next().and_then(|i| i.parse().ok()), f.next()) else {
            return Err(bad(path, n + 1, line, "expected 'index ClassName'"));
        };
        classes.push((i, name.to_string()));
    }
    classes.sort();
    if classes.iter().enumerate().any(|(k, (i, _))| *i != k as i64 + 1) {
        return Err(DiscoverError::Annotation { path: path.into(), reason: "indices are not 1, 2, 3, ...".into() });
    }
    Ok(classes.into_iter().map(|(_, c)| c).collect())
}

/// `Class/v_Class_g08_c01.avi [label]`: the path and its 0-based label, checked against the folder's class.
fn parse_line(path: &Path, n: usize, line: &str, by_folder: &HashMap<String, i64>) -> Result<(String, i64)> {
    let mut f = line.split_whitespace();
    let rel = f.next().unwrap_or_default().replace('\\', "/");
    let folder = rel.split('/').next().unwrap_or_default().to_ascii_lowercase();
    let Some(&class) = by_folder.get(&folder) else {
        return Err(bad(path, n, line, "its folder is not a class of classInd.txt"));
    };
    if let Some(label) = f.next() {
        let label: i64 = label.parse().map_err(|_| bad(path, n, line, "the label is not a number"))?;
        if label - 1 != class {
            return Err(DiscoverError::Conflict {
                path: rel,
                reason: format!(
                    "{} line {n} gives label {label}, its folder is class {} in classInd.txt",
                    file_name(path),
                    class + 1
                ),
            });
        }
    }
    Ok((rel, class))
}

fn bad(path: &Path, n: usize, line: &str, reason: &str) -> DiscoverError {
    DiscoverError::Annotation { path: PathBuf::from(path), reason: format!("line {n} '{}': {reason}", line.trim()) }
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap_or_default().to_string_lossy().into_owned()
}
