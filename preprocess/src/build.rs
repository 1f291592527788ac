//! `froster-pack build`: lists -> parallel decode -> shards -> manifest (written last).
use crate::encode::{encode_video, EncodeOptions};
use crate::error::{io_err, json_err, Error, Result, VideoError};
use crate::lists::{ListSet, NamedList};
use crate::ops::write_manifest;
use crate::writer::{completed_shards, write_atomic, ShardWriter};
use froster_loader::format::*;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use std::time::Instant;

#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The folder that list paths are relative to.
    pub root: PathBuf,
    pub lists: ListSet,
    pub out: PathBuf,
    /// Class names (index -> name) to write as `classes.json` when the labels came from names on disk.
    pub classes: Option<Vec<String>>,
    pub encode: EncodeOptions,
    pub jobs: usize,
    pub shard_size: u64,
    pub progress: bool,
}

impl BuildOptions {
    /// Options with the defaults of `froster-pack build`: default encoding, one job per core, 1 GiB shards,
    /// no progress bar, no class file.
    pub fn new(root: impl Into<PathBuf>, lists: ListSet, out: impl Into<PathBuf>) -> Self {
        BuildOptions {
            root: root.into(),
            lists,
            out: out.into(),
            encode: EncodeOptions::default(),
            jobs: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            shard_size: 1 << 30,
            progress: false,
            classes: None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct BuildSummary {
    pub ok: usize,
    pub failed: usize,
    /// Videos packed with a warning (in warnings.csv).
    pub warned: usize,
    pub resumed: usize,
    pub frames: u64,
    pub pack_bytes: u64,
    pub source_bytes: u64,
    pub seconds: f64,
    /// Lists of the pack's earlier build that this one did not name, and kept.
    pub kept: Vec<String>,
    /// Shards of an interrupted build that were not trusted (and why): their videos were packed again.
    pub discarded: Vec<String>,
}

impl std::fmt::Display for BuildSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let ratio = self.pack_bytes as f64 / self.source_bytes.max(1) as f64;
        write!(
            f,
            "videos ok {} (resumed {}, with warnings {}), failed {}; frames {}; pack {:.1} MB vs source {:.1} MB \
             ({:.2}x); {:.1} s",
            self.ok,
            self.resumed,
            self.warned,
            self.failed,
            self.frames,
            self.pack_bytes as f64 / 1e6,
            self.source_bytes as f64 / 1e6,
            ratio,
            self.seconds
        )?;
        if !self.kept.is_empty() {
            write!(f, "; kept the earlier build's lists {}", self.kept.join(", "))?;
        }
        for d in &self.discarded {
            write!(f, "\nnot resumed: {d}")?;
        }
        Ok(())
    }
}

pub fn build(opts: &BuildOptions) -> Result<BuildSummary> {
    let t0 = Instant::now();
    if !opts.root.is_dir() {
        return Err(Error::NotAFolder(opts.root.clone()));
    }
    if opts.out.exists() && !opts.out.is_dir() {
        return Err(Error::OutIsAFile(opts.out.clone()));
    }
    std::fs::create_dir_all(&opts.out).map_err(io_err(&opts.out))?;
    let _lock = crate::lock::PackLock::acquire(&opts.out)?;
    check_options(&opts.out, &opts.encode)?;
    let (merged, kept) = keep_earlier_lists(&opts.out, &opts.lists)?;
    let lists = &merged;
    let _ = std::fs::remove_file(opts.out.join(MANIFEST));
    let (done_shards, discarded) = completed_shards(&opts.out)?;
    let mut entries: HashMap<String, VideoEntry> = HashMap::new();
    let mut shards = Vec::new();
    for (id, es) in &done_shards {
        shards.push(*id);
        for e in es {
            entries.insert(e.id.clone(), e.clone());
        }
    }
    let resumed = lists.paths.iter().filter(|p| entries.contains_key(*p)).count();
    let todo: Vec<String> = lists.paths.iter().filter(|p| !entries.contains_key(*p)).cloned().collect();
    let bar = progress_bar(opts.progress, lists.paths.len() as u64, resumed as u64);
    let mut next_shard = done_shards.last().map(|(id, _)| id + 1).unwrap_or(0);
    let mut failed = lists.failed.clone();
    let mut writer: Option<ShardWriter> = None;
    let mut frames_done = 0u64;
    for result in parallel_encode(&opts.root, todo, opts.encode, opts.jobs) {
        match result {
            Ok(v) => {
                frames_done += v.entry.frames as u64;
                let w = match writer.as_mut() {
                    Some(w) => w,
                    None => writer.insert(ShardWriter::create(&opts.out, next_shard)?),
                };
                let e = w.append(v)?;
                entries.insert(e.id.clone(), e);
                if w.len() >= opts.shard_size {
                    writer.take().unwrap().finish()?;
                    shards.push(next_shard);
                    next_shard += 1;
                }
            }
            Err((path, reason)) => {
                failed.push(Failure { lists: lists.memberships(&path), path, reason: reason.to_string() })
            }
        }
        bar.inc(1);
        let secs = t0.elapsed().as_secs_f64().max(1e-3);
        bar.set_message(format!(
            "{:.1} videos/s, {:.0} frames/s",
            bar.position() as f64 / secs,
            frames_done as f64 / secs
        ));
    }
    if let Some(w) = writer.take().filter(|w| !w.is_empty()) {
        w.finish()?;
        shards.push(next_shard);
    }
    bar.finish_and_clear();
    let manifest = assemble(opts, lists, &entries, &shards, failed)?;
    if let Some(classes) = &opts.classes {
        write_classes(&opts.out, classes)?;
    }
    write_failed_csv(&opts.out, &manifest.failed)?;
    write_warnings_csv(&opts.out, &manifest.videos)?;
    write_manifest(&opts.out, &manifest)?;
    let pack_bytes: u64 = manifest.shards.iter().map(|s| s.bytes).sum();
    Ok(BuildSummary {
        ok: manifest.videos.len(),
        failed: manifest.failed.len(),
        warned: manifest.videos.iter().filter(|v| v.warning.is_some()).count(),
        resumed,
        frames: manifest.videos.iter().map(|v| v.frames as u64).sum(),
        pack_bytes,
        source_bytes: manifest.videos.iter().map(|v| v.source_bytes).sum(),
        seconds: t0.elapsed().as_secs_f64(),
        kept,
        discarded,
    })
}

/// A rebuild that names fewer lists than the pack has keeps the others (their videos are in the shards already),
/// with their failures: lists are only ever added or replaced. Returns the merged lists and the kept names.
fn keep_earlier_lists(out: &Path, lists: &ListSet) -> Result<(ListSet, Vec<String>)> {
    let path = out.join(MANIFEST);
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok((lists.clone(), vec![])) };
    let version = serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| v["version"].as_u64());
    if let Some(version) = version.filter(|&v| v < VERSION as u64) {
        return Err(Error::OlderPack { dir: out.into(), version });
    }
    let old: Manifest = serde_json::from_str(&text).map_err(json_err(&path))?;
    let mut named: Vec<NamedList> = lists
        .lists
        .iter()
        .map(|(name, items)| NamedList {
            name: name.clone(),
            items: items.iter().map(|(i, l)| (lists.paths[*i].clone(), *l)).collect(),
        })
        .collect();
    let mut failed = lists.failed.clone();
    let mut kept = Vec::new();
    for (name, items) in old.lists.iter().filter(|(n, _)| !lists.lists.contains_key(*n)) {
        let items = items.iter().filter_map(|(v, l)| old.videos.get(*v as usize).map(|e| (e.id.clone(), *l))).collect();
        named.push(NamedList { name: name.clone(), items });
        for f in old.failed.iter().filter(|f| f.lists.iter().any(|(l, _)| l == name)) {
            if !failed.iter().any(|g| g.path == f.path) {
                failed.push(f.clone());
            }
        }
        kept.push(name.clone());
    }
    Ok((ListSet::from_lists(named, failed), kept))
}

fn assemble(
    opts: &BuildOptions,
    lists: &ListSet,
    entries: &HashMap<String, VideoEntry>,
    shards: &[u32],
    failed: Vec<Failure>,
) -> Result<Manifest> {
    let mut videos = Vec::new();
    let mut index = HashMap::new();
    for p in &lists.paths {
        if let Some(e) = entries.get(p) {
            index.insert(p.clone(), videos.len() as u32);
            videos.push(e.clone());
        }
    }
    let mut shard_entries = Vec::new();
    let mut remap = HashMap::new();
    let used: HashSet<u32> = videos.iter().map(|v| v.shard).collect();
    for &id in shards.iter().filter(|id| used.contains(id)) {
        let file = crate::writer::shard_name(id);
        let path = opts.out.join(&file);
        let bytes = std::fs::metadata(&path).map_err(io_err(&path))?.len();
        remap.insert(id, shard_entries.len() as u32);
        shard_entries.push(ShardEntry { file, bytes });
    }
    for v in &mut videos {
        v.shard = remap[&v.shard];
    }
    let lists_out = lists
        .lists
        .iter()
        .map(|(name, items)| {
            let kept = items.iter().filter_map(|(i, l)| index.get(&lists.paths[*i]).map(|&v| (v, *l))).collect();
            (name.clone(), kept)
        })
        .collect();
    Ok(Manifest {
        magic: MANIFEST_MAGIC.into(),
        version: VERSION,
        pixel: opts.encode.stored_pixel(),
        short_side: opts.encode.decode.short_side,
        keep_every: opts.encode.keep_every,
        zstd_level: opts.encode.zstd_level,
        shards: shard_entries,
        videos,
        lists: lists_out,
        failed,
        codec: opts.encode.codec,
        psnr_floor: opts.encode.codec.is_lossy().then_some(opts.encode.psnr_floor),
        checksum: None, // sealed when written
    })
}

/// A resumed build must store frames exactly as the shards already written: the options are recorded in
/// `build.json` when a pack folder is started, and a rerun with other options is refused.
fn check_options(out: &Path, e: &EncodeOptions) -> Result<()> {
    let mut want = serde_json::json!({
        "pixel": e.decode.pixel, "short_side": e.decode.short_side, "keep_every": e.keep_every, "zstd_level": e.zstd_level,
    });
    // One codec per pack folder (a lossless folder's build.json predates the field and stays valid).
    if e.codec != Codec::Lossless {
        want["codec"] = serde_json::json!(e.codec);
    }
    if e.codec.is_lossy() {
        want["psnr_floor"] = serde_json::json!(e.psnr_floor);
    }
    let path = out.join("build.json");
    match std::fs::read(&path) {
        Ok(bytes) => {
            let had: serde_json::Value = serde_json::from_slice(&bytes).map_err(json_err(&path))?;
            if had != want {
                return Err(Error::OtherOptions { path: out.into(), had: had.to_string(), want: want.to_string() });
            }
            Ok(())
        }
        Err(_) => write_atomic(&path, serde_json::to_string_pretty(&want).map_err(json_err(&path))?.as_bytes()),
    }
}

/// `classes.json` in the reference's rephrased-JSON shape (`{"0": "name", ...}`), so that `froster-train
/// --packs` finds the class names without `DATA.CLASSES`.
fn write_classes(out: &Path, classes: &[String]) -> Result<()> {
    let map: serde_json::Map<String, serde_json::Value> =
        classes.iter().enumerate().map(|(i, c)| (i.to_string(), c.clone().into())).collect();
    let path = out.join(CLASSES_FILE);
    write_atomic(&path, serde_json::to_string_pretty(&map).map_err(json_err(&path))?.as_bytes())
}

pub fn write_failed_csv(dir: &Path, failed: &[Failure]) -> Result<()> {
    let mut s = String::from("path,reason\n");
    for f in failed {
        s.push_str(&format!("{},{}\n", csv_field(&f.path), csv_field(&f.reason)));
    }
    write_atomic(&dir.join("failed.csv"), s.as_bytes())
}

/// `warnings.csv`: the packed videos worth a look (a header that over-counts its frames), beside failed.csv.
pub fn write_warnings_csv(dir: &Path, videos: &[VideoEntry]) -> Result<()> {
    let mut s = String::from("path,warning\n");
    for v in videos {
        if let Some(w) = &v.warning {
            s.push_str(&format!("{},{}\n", csv_field(&v.id), csv_field(w)));
        }
    }
    write_atomic(&dir.join("warnings.csv"), s.as_bytes())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\"").replace('\n', " "))
    } else {
        s.to_string()
    }
}

/// Encodes videos on `jobs` threads; yields results as they finish.
pub fn parallel_encode(
    root: &Path,
    todo: Vec<String>,
    opts: EncodeOptions,
    jobs: usize,
) -> impl Iterator<Item = std::result::Result<crate::writer::EncodedVideo, (String, VideoError)>> {
    let jobs = jobs.max(1);
    let (work_tx, work_rx) = crossbeam_channel::bounded::<String>(jobs * 2);
    let (done_tx, done_rx) = crossbeam_channel::bounded(jobs * 2);
    std::thread::spawn(move || {
        for p in todo {
            if work_tx.send(p).is_err() {
                break;
            }
        }
    });
    for _ in 0..jobs {
        let (rx, tx, root) = (work_rx.clone(), done_tx.clone(), root.to_path_buf());
        std::thread::spawn(move || {
            for p in rx {
                let r = encode_video(&p, &root.join(&p), &opts).map_err(|e| (p.clone(), e));
                if tx.send(r).is_err() {
                    break;
                }
            }
        });
    }
    done_rx.into_iter()
}

pub fn progress_bar(show: bool, total: u64, pos: u64) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} videos  {msg}  ETA {eta}")
            .unwrap_or(ProgressStyle::default_bar()),
    );
    bar.set_position(pos);
    bar
}
