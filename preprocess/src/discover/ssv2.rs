//! Rule 5: Something-Something v2: a flat folder of `<id>.webm` with `labels.json` (template -> index) and
//! `train.json` / `validation.json` (`id`, `template`; the template with its brackets removed names the class),
//! in ROOT or ROOT/labels.
use super::{missing, read_text, subfolders, unlisted, videos_under, Dataset, DiscoverError, Layout, Result};
use crate::lists::NamedList;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(serde::Deserialize)]
struct Entry {
    id: serde_json::Value,
    template: Option<String>,
}

pub fn find(root: &Path) -> Result<Option<Dataset>> {
    let Some(dir) = [root.to_path_buf(), root.join("labels")].into_iter().find(|d| d.join("labels.json").is_file())
    else {
        return Ok(None);
    };
    let splits: Vec<(&str, PathBuf)> = [("train", "train.json"), ("val", "validation.json")]
        .into_iter()
        .map(|(n, f)| (n, dir.join(f)))
        .filter(|(_, p)| p.is_file())
        .collect();
    if splits.is_empty() {
        return Ok(None);
    }
    let labels_file = dir.join("labels.json");
    let classes = read_labels(&labels_file)?;
    let index: HashMap<&str, i64> = classes.iter().enumerate().map(|(i, c)| (c.as_str(), i as i64)).collect();
    let mut entries = Vec::new();
    for (name, path) in &splits {
        entries.push((*name, path, parse::<Vec<Entry>>(path)?));
    }
    let first = entries.iter().flat_map(|(_, _, e)| e.first()).next().map(|e| format!("{}.webm", id_of(&e.id)));
    let videos = videos_root(root, first.as_deref())?;
    let on_disk = videos_under(&videos, &videos, 0)?;
    let present: HashMap<String, &String> = on_disk.iter().map(|p| (file_id(p), p)).collect();
    let (mut lists, mut failed) = (Vec::new(), Vec::new());
    for (name, path, es) in entries {
        let mut items = Vec::new();
        for e in es {
            let id = id_of(&e.id);
            let template = e.template.unwrap_or_default().replace(['[', ']'], "");
            let Some(&class) = index.get(template.as_str()) else {
                return Err(DiscoverError::Conflict {
                    path: format!("{} (video {id})", path.display()),
                    reason: format!("template '{template}' is not a class of labels.json"),
                });
            };
            match present.get(&id) {
                Some(p) => items.push(((*p).clone(), class)),
                None => {
                    let reason = format!("listed in {}, no {id}.webm on disk", super::relative(root, path));
                    failed.push(missing(&format!("{id}.webm"), reason, vec![(name.into(), class)]));
                }
            }
        }
        lists.push(NamedList { name: name.into(), items });
    }
    let mut sources = vec![super::relative(root, &labels_file)];
    sources.extend(splits.iter().map(|(_, p)| super::relative(root, p)));
    Ok(Some(Dataset {
        layout: Layout::Ssv2,
        root: videos,
        sources,
        unlisted: unlisted(&on_disk, &lists),
        lists,
        failed,
        labels: format!("labels.json ({} classes)", classes.len()),
        classes: Some(classes),
        notes: vec![],
    }))
}

fn parse<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    serde_json::from_str(&read_text(path)?)
        .map_err(|e| DiscoverError::Annotation { path: path.into(), reason: format!("not the SSv2 JSON shape: {e}") })
}

/// labels.json: `{"Approaching something with your camera": "0", ...}` -> names in index order.
fn read_labels(path: &Path) -> Result<Vec<String>> {
    let map: HashMap<String, serde_json::Value> = parse(path)?;
    let mut classes = vec![String::new(); map.len()];
    for (name, v) in map {
        let i = v.as_str().and_then(|s| s.parse::<usize>().ok()).or(v.as_u64().map(|u| u as usize));
        match i.and_then(|i| classes.get_mut(i)) {
            Some(slot) => *slot = name,
            None => {
                let reason = format!("class '{name}' has index {v}, not one of 0..{}", classes.len());
                return Err(DiscoverError::Annotation { path: path.into(), reason });
            }
        }
    }
    Ok(classes)
}

fn id_of(v: &serde_json::Value) -> String {
    v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())
}

fn file_id(rel: &str) -> String {
    rel.rsplit_once('.').map_or(rel, |(s, _)| s).to_string()
}

/// ROOT when it holds the first listed video, else the folder inside it that does; ROOT when none does.
fn videos_root(root: &Path, first: Option<&str>) -> Result<PathBuf> {
    let Some(first) = first else { return Ok(root.into()) };
    if root.join(first).is_file() {
        return Ok(root.into());
    }
    Ok(subfolders(root)?.into_iter().map(|d| root.join(d)).find(|d| d.join(first).is_file()).unwrap_or(root.into()))
}
