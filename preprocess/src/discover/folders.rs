//! Rule 6: class folders (`<class>/<video>`), under split folders (`train/`, `val/`, `test/`) or directly under
//! ROOT (then every video goes to list `train`). Labels are the sorted class names; folders of Kinetics class
//! names that cover at least half of K400 or K600 take that label map, as the reference's.
use super::names::{index_by_key, key, kinetics_map, readable};
use super::{split_name, subfolders, videos_under, Dataset, Layout, Result};
use crate::lists::NamedList;
use std::collections::BTreeSet;
use std::path::Path;

pub fn find(root: &Path) -> Result<Option<Dataset>> {
    let splits: Vec<(String, &'static str)> =
        subfolders(root)?.into_iter().filter_map(|d| split_name(&d).map(|s| (d, s))).collect();
    let groups: Vec<(String, String)> = if splits.is_empty() {
        vec![(String::new(), "train".into())]
    } else {
        splits.iter().map(|(d, s)| (format!("{d}/"), s.to_string())).collect()
    };
    // (list, class folder, video path relative to ROOT)
    let mut found = Vec::new();
    for (prefix, list) in &groups {
        let dir = root.join(prefix);
        for class in subfolders(&dir)? {
            for rel in videos_under(root, &dir.join(&class), 2)? {
                found.push((list.clone(), class.clone(), rel));
            }
        }
    }
    if found.is_empty() {
        return Ok(None);
    }
    let names: BTreeSet<String> = found.iter().map(|(_, c, _)| c.clone()).collect();
    let (labels, classes) = match kinetics_map(&names, 0.5) {
        Some((title, classes)) => (format!("{title} ({} classes)", classes.len()), classes),
        None => (
            format!("sorted folder names ({} classes)", names.len()),
            names.iter().map(|n| readable(n)).collect::<Vec<_>>(),
        ),
    };
    let index = index_by_key(&classes);
    let mut lists: Vec<NamedList> = Vec::new();
    for (list, class, rel) in found {
        let label = index[&key(&readable(&class))];
        match lists.iter_mut().find(|l| l.name == list) {
            Some(l) => l.items.push((rel, label)),
            None => lists.push(NamedList { name: list, items: vec![(rel, label)] }),
        }
    }
    let loose = videos_under(root, root, 0)?;
    let mut notes = Vec::new();
    if splits.is_empty() {
        notes.push("no train/val/test folders: every video goes to list 'train'".into());
    }
    Ok(Some(Dataset {
        layout: Layout::ClassFolders,
        root: root.into(),
        sources: groups.iter().filter(|(p, _)| !p.is_empty()).map(|(p, _)| p.clone()).collect(),
        lists,
        failed: vec![],
        classes: Some(classes),
        labels,
        unlisted: loose,
        notes,
    }))
}
