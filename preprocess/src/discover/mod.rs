//! `froster-pack build ROOT` without `--list`: the lists of a dataset folder, found by convention, in this order:
//! the reference's lists (`train*.csv`, `val*.csv`, `test*.csv` of `path,label` lines), Kinetics (split folders
//! plus the annotation CSVs), UCF101 (`ucfTrainTestlist/`), HMDB51 (`*_test_splitN.txt`), Something-Something v2
//! (`labels.json` plus `train.json` / `validation.json`), and last plain class folders.
mod folders;
mod hmdb;
mod kinetics;
mod names;
mod reference;
mod ssv2;
mod ucf;

use crate::lists::{ListSet, NamedList};
use froster_loader::format::Failure;
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

pub use names::{key as class_key, readable};

/// File extensions taken as videos when walking folders.
pub const VIDEO_EXTENSIONS: [&str; 12] =
    ["mp4", "avi", "mkv", "webm", "mov", "m4v", "flv", "mpg", "mpeg", "wmv", "3gp", "ogv"];

/// Why a dataset folder could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: {reason}", path.display())]
    Annotation { path: PathBuf, reason: String },
    #[error("{path}: the lists and the folders disagree: {reason}")]
    Conflict { path: String, reason: String },
    #[error("{}: no dataset layout found (no train/val/test lists, Kinetics annotation CSVs, ucfTrainTestlist/, \
             HMDB51 split files, SSv2 labels.json, or class folders of videos); give the lists with --list", root.display())]
    NotFound { root: PathBuf },
}

pub type Result<T> = std::result::Result<T, DiscoverError>;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DiscoverError + '_ {
    move |source| DiscoverError::Io { path: path.into(), source }
}

/// The layouts that discovery knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    ReferenceLists,
    Kinetics,
    Ucf101 { split: u32 },
    Hmdb51 { split: u32 },
    Ssv2,
    ClassFolders,
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Layout::ReferenceLists => write!(f, "reference lists (path,label)"),
            Layout::Kinetics => write!(f, "Kinetics (split folders and annotation CSVs)"),
            Layout::Ucf101 { split } => write!(f, "UCF101 (ucfTrainTestlist, split {split})"),
            Layout::Hmdb51 { split } => write!(f, "HMDB51 (split files, split {split})"),
            Layout::Ssv2 => write!(f, "Something-Something v2 (labels.json and split JSONs)"),
            Layout::ClassFolders => write!(f, "class folders"),
        }
    }
}

/// What was found in a dataset folder.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub layout: Layout,
    /// The folder that list paths are relative to (e.g. `ROOT/UCF-101`).
    pub root: PathBuf,
    /// The annotation files and folders that were read, for the report.
    pub sources: Vec<String>,
    /// Lists of videos that exist on disk.
    pub lists: Vec<NamedList>,
    /// Listed videos that are not on disk, and unreadable lines: they go to failed.csv.
    pub failed: Vec<Failure>,
    /// Index -> class name, when the labels came from names (folders, annotations), not from numbers in lists.
    pub classes: Option<Vec<String>>,
    /// How the labels were chosen, for the report.
    pub labels: String,
    /// Videos on disk (relative to `root`) that no list names.
    pub unlisted: Vec<String>,
    /// Anything else worth saying (rows without labels, videos a split leaves unused).
    pub notes: Vec<String>,
}

impl Dataset {
    /// The lists as a build or scan takes them.
    pub fn list_set(&self) -> ListSet {
        ListSet::from_lists(self.lists.clone(), self.failed.clone())
    }
}

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        writeln!(f, "found: {} in {}", self.layout, self.root.display())?;
        if !self.sources.is_empty() {
            writeln!(f, "  read: {}", self.sources.join(", "))?;
        }
        match &self.classes {
            Some(_) => writeln!(f, "  labels: {} (names written to classes.json)", self.labels)?,
            None => writeln!(f, "  labels: {}", self.labels)?,
        }
        for l in &self.lists {
            let classes: HashSet<i64> = l.items.iter().map(|(_, c)| *c).collect();
            writeln!(f, "  list {}: {} videos, {} classes", l.name, l.items.len(), classes.len())?;
        }
        if !self.failed.is_empty() {
            writeln!(
                f,
                "  missing or unreadable: {} (go to failed.csv), e.g. {}",
                self.failed.len(),
                self.failed[0].path
            )?;
        }
        if !self.unlisted.is_empty() {
            writeln!(f, "  on disk but in no list: {} (not packed), e.g. {}", self.unlisted.len(), self.unlisted[0])?;
        }
        for n in &self.notes {
            writeln!(f, "  note: {n}")?;
        }
        Ok(())
    }
}

/// Finds the lists of the dataset in `root`; `split` picks UCF101's and HMDB51's official split (1-3).
pub fn discover(root: &Path, split: u32) -> Result<Dataset> {
    if !root.is_dir() {
        return Err(DiscoverError::Io {
            path: root.into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a folder"),
        });
    }
    if let Some(d) = reference::find(root)? {
        return Ok(d);
    }
    if let Some(d) = kinetics::find(root)? {
        return Ok(d);
    }
    if let Some(d) = ucf::find(root, split)? {
        return Ok(d);
    }
    if let Some(d) = hmdb::find(root, split)? {
        return Ok(d);
    }
    if let Some(d) = ssv2::find(root)? {
        return Ok(d);
    }
    folders::find(root)?.ok_or_else(|| DiscoverError::NotFound { root: root.into() })
}

/// Whether `path` names a video by its extension.
pub fn is_video(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Videos under `dir` down to `depth` folders, as paths relative to `base` with `/` separators, sorted.
fn videos_under(base: &Path, dir: &Path, depth: usize) -> Result<Vec<String>> {
    let mut out = Vec::new();
    walk(base, dir, depth, &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(base: &Path, dir: &Path, depth: usize, out: &mut Vec<String>) -> Result<()> {
    for e in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let path = e.map_err(io_err(dir))?.path();
        if path.is_dir() {
            if depth > 0 {
                walk(base, &path, depth - 1, out)?;
            }
        } else if is_video(&path) {
            out.push(relative(base, &path));
        }
    }
    Ok(())
}

fn relative(base: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(base).unwrap_or(path);
    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// Sorted sub-folder names of `dir`.
fn subfolders(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let e = e.map_err(io_err(dir))?;
        if e.path().is_dir() {
            out.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    Ok(out)
}

/// The canonical split name of a folder or annotation value: train, val or test.
fn split_name(s: &str) -> Option<&'static str> {
    match s.to_ascii_lowercase().as_str() {
        "train" | "training" => Some("train"),
        "val" | "valid" | "validate" | "validation" => Some("val"),
        "test" | "testing" => Some("test"),
        _ => None,
    }
}

/// Videos on disk that no list names.
fn unlisted(on_disk: &[String], lists: &[NamedList]) -> Vec<String> {
    let listed: HashSet<&str> = lists.iter().flat_map(|l| l.items.iter().map(|(p, _)| p.as_str())).collect();
    on_disk.iter().filter(|p| !listed.contains(p.as_str())).cloned().collect()
}

/// A listed video that is not on disk, kept with its lists so that `replace` can add it back.
fn missing(path: &str, reason: String, lists: Vec<(String, i64)>) -> Failure {
    Failure { path: path.into(), reason, lists }
}

/// Reads a text file, naming it in the error; a UTF-8 byte-order mark is dropped.
fn read_text(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    Ok(text.strip_prefix('\u{feff}').map(str::to_string).unwrap_or(text))
}

/// The fields of one CSV line; double-quoted fields may hold commas and doubled quotes.
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.trim_end_matches(['\r', '\n']).chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(String::new()),
            _ => fields.last_mut().unwrap().push(c),
        }
    }
    fields.iter().map(|f| f.trim().to_string()).collect()
}

fn file_stem(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}
