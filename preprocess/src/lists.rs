//! The lists a pack is built from: unique video paths in first-seen order and, per list, (path index, label).
//! They come from list files (`--list`) or from a dataset layout found by [`crate::discover`].
use crate::error::{io_err, Result};
use froster_loader::format::Failure;
use froster_loader::{list_name, parse_list, read_list};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// One named list of (path relative to the dataset root, label).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedList {
    pub name: String,
    pub items: Vec<(String, i64)>,
}

/// Lists merged for a build or a scan.
#[derive(Debug, Clone, Default)]
pub struct ListSet {
    /// Every path once, in first-seen order.
    pub paths: Vec<String>,
    /// Per list name, the (index into `paths`, label) pairs.
    pub lists: BTreeMap<String, Vec<(usize, i64)>>,
    /// Lines that could not be read, and listed videos known to be missing: they go to failed.csv.
    pub failed: Vec<Failure>,
}

impl ListSet {
    /// Merges named lists; `failed` are entries already known to be bad (missing files, say).
    pub fn from_lists(named: Vec<NamedList>, failed: Vec<Failure>) -> Self {
        let mut set = ListSet { failed, ..Default::default() };
        let mut index: HashMap<String, usize> = HashMap::new();
        for l in named {
            let items = l.items.into_iter().map(|(p, label)| (set.intern(&mut index, p), label)).collect();
            set.lists.insert(l.name, items);
        }
        set
    }

    /// Reads list files leniently, as `build` does: a bad line goes to `failed` and the rest is kept.
    pub fn read(files: &[PathBuf]) -> Result<Self> {
        let mut named = Vec::new();
        let mut failed = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(file).map_err(io_err(file))?;
            let (items, bad) = parse_lenient(&text, file);
            failed.extend(bad);
            named.push(NamedList { name: unique_name(file, files), items });
        }
        Ok(Self::from_lists(named, failed))
    }

    /// Reads list files strictly, as `scan` does: the first bad line is an error naming the file and line.
    pub fn read_strict(files: &[PathBuf]) -> Result<Self> {
        let mut named = Vec::new();
        for file in files {
            named.push(NamedList { name: unique_name(file, files), items: read_list(file)? });
        }
        Ok(Self::from_lists(named, vec![]))
    }

    fn intern(&mut self, index: &mut HashMap<String, usize>, path: String) -> usize {
        let next = index.len();
        let i = *index.entry(path.clone()).or_insert(next);
        if i == self.paths.len() {
            self.paths.push(path);
        }
        i
    }

    /// The (list, label) pairs that name `path`.
    pub fn memberships(&self, path: &str) -> Vec<(String, i64)> {
        let Some(i) = self.paths.iter().position(|p| p == path) else {
            return vec![];
        };
        self.lists
            .iter()
            .flat_map(|(name, items)| items.iter().filter(move |(j, _)| *j == i).map(move |(_, l)| (name.clone(), *l)))
            .collect()
    }
}

/// Parses a list's text, keeping what reads: each bad line becomes a failure naming the file and line.
pub fn parse_lenient(text: &str, file: &Path) -> (Vec<(String, i64)>, Vec<Failure>) {
    let mut items = Vec::new();
    let mut bad = Vec::new();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (n, line) in text.lines().enumerate() {
        match parse_list(line) {
            Ok(v) => items.extend(v),
            Err((_, reason)) => bad.push(Failure {
                path: format!("{}:{}: {}", file.display(), n + 1, line.trim()),
                reason,
                lists: vec![],
            }),
        }
    }
    (items, bad)
}

/// A list's name in the pack: its file stem, or `folder/stem` when several lists share the stem
/// (e.g. ucf101_split1/test.csv and ucf101_split2/test.csv).
pub fn unique_name(file: &Path, all: &[PathBuf]) -> String {
    let stem = list_name(file);
    if all.iter().filter(|f| list_name(f) == stem).count() < 2 {
        return stem;
    }
    let parent =
        file.parent().and_then(|p| p.file_name()).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    format!("{parent}/{stem}")
}
