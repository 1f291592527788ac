//! `froster-bench loader`: clips/s for train 8x16 at 224 and views/s for test, from packs and from videos.
use super::{cores, peak_rss_mb};
use crate::error::Result;
use froster_loader::{read_list, ClipSource, Loader, LoaderConfig, Mode, PackReader, PackSource, VideoSource};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// What to measure.
#[derive(clap::Args, Debug, Clone)]
pub struct LoaderArgs {
    /// Pack folder.
    #[arg(long)]
    pub packs: PathBuf,
    /// Pack list to read (default: the first).
    #[arg(long)]
    pub pack_list: Option<String>,
    /// Also read straight from the videos of this dataset root (with --list).
    #[arg(long)]
    pub videos: Option<PathBuf>,
    /// A reference-format list of the videos under --videos.
    #[arg(long)]
    pub list: Option<PathBuf>,
    /// Loader workers of the N-worker measurement [default: all cores].
    #[arg(long, alias = "threads")]
    pub workers: Option<usize>,
    /// Clips per measurement.
    #[arg(long, default_value_t = 48)]
    pub clips: usize,
    /// Also time train clips per video (1 thread), for the per-video comparison with the reference.
    #[arg(long)]
    pub per_video: bool,
    /// Instead of timing: write the first training batch (train 8x16 at 224, scales 224-256, --batch clips, --seed,
    /// --epoch) as raw uint8 to DUMP and its shape, labels and video indices to DUMP.json (the Python package's
    /// tests compare against it).
    #[arg(long)]
    pub dump: Option<PathBuf>,
    /// Clips per batch of --dump.
    #[arg(long, default_value_t = 4)]
    pub batch: usize,
    /// Seed of --dump.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Epoch of --dump.
    #[arg(long, default_value_t = 0)]
    pub epoch: u64,
}

/// --dump: the first training batch, raw, and its facts beside it.
fn dump(src: Arc<dyn ClipSource>, a: &LoaderArgs, path: &std::path::Path, workers: usize) -> Result<serde_json::Value> {
    let cfg = LoaderConfig {
        batch_size: a.batch,
        workers,
        seed: a.seed,
        epoch: a.epoch,
        mode: TRAIN,
        crop: 224,
        drop_last: true,
        ..Default::default()
    };
    let b = match Loader::new(src, cfg)?.next() {
        Some(b) => b?,
        None => return Err(crate::Error::Argument("the list gives no batch".into())),
    };
    std::fs::write(path, &b.u8).map_err(crate::error::io_err(path))?;
    let facts = json!({"shape": b.shape, "labels": b.labels, "index": b.videos});
    let side = path.with_extension("json");
    std::fs::write(&side, facts.to_string()).map_err(crate::error::io_err(&side))?;
    Ok(facts)
}

pub(crate) const TRAIN: Mode = Mode::Train { min_scale: 224, max_scale: 256 };
const TEST: Mode = Mode::Test { scale: 224 };

pub(crate) fn rate(src: Arc<dyn ClipSource>, mode: Mode, threads: usize, clips: usize) -> Result<f64> {
    let cfg = LoaderConfig { batch_size: 1, workers: threads, prefetch: 4, mode, crop: 224, ..Default::default() };
    let t0 = Instant::now();
    let mut n = 0;
    let mut loader = Loader::new(src, cfg)?;
    while let Some(b) = loader.next() {
        let b = b?;
        n += b.labels.len();
        loader.recycle(b);
        if n >= clips {
            break;
        }
    }
    Ok(n as f64 / t0.elapsed().as_secs_f64())
}

/// Runs the measurement; the numbers as JSON.
pub fn run(a: LoaderArgs) -> Result<serde_json::Value> {
    let all = a.workers.unwrap_or_else(cores);
    let reader = Arc::new(PackReader::open(&a.packs)?);
    let name = match a.pack_list.clone().or_else(|| reader.manifest().lists.keys().next().cloned()) {
        Some(n) => n,
        None => return Err(froster_loader::Error::UnknownList { name: "(any)".into(), known: String::new() }.into()),
    };
    let pack: Arc<dyn ClipSource> = Arc::new(PackSource::new(reader.clone(), &name)?);
    if let Some(path) = &a.dump {
        return dump(pack, &a, path, all);
    }
    let mut out = json!({"threads": all});
    for (label, t) in [("1t", 1), ("nt", all)] {
        out[format!("pack_train_clips_per_s_{label}")] = rate(pack.clone(), TRAIN, t, a.clips)?.into();
        out[format!("pack_test_views_per_s_{label}")] = rate(pack.clone(), TEST, t, a.clips)?.into();
    }
    out["pack_train_clips_per_s"] = out["pack_train_clips_per_s_nt"].clone();
    out["pack_test_views_per_s"] = out["pack_test_views_per_s_nt"].clone();
    if let (Some(root), Some(l)) = (a.videos, a.list) {
        let vs: Arc<dyn ClipSource> = Arc::new(VideoSource::new(root, read_list(&l)?));
        let few = (a.clips / 4).max(4);
        for (label, t) in [("1t", 1), ("nt", all)] {
            out[format!("video_train_clips_per_s_{label}")] = rate(vs.clone(), TRAIN, t, few)?.into();
            out[format!("video_test_views_per_s_{label}")] = rate(vs.clone(), TEST, t, few)?.into();
        }
        out["video_train_clips_per_s"] = out["video_train_clips_per_s_nt"].clone();
        out["video_test_views_per_s"] = out["video_test_views_per_s_nt"].clone();
    }
    if a.per_video {
        let mut rows = serde_json::Map::new();
        for (i, v) in reader.videos().iter().enumerate() {
            let src: Arc<dyn ClipSource> = Arc::new(PackSource::with_items(reader.clone(), vec![(i as u32, 0); 64]));
            rows.insert(v.id.clone(), rate(src, TRAIN, 1, 64)?.into());
        }
        out["pack_train_clips_per_s_1t_per_video"] = rows.into();
    }
    out["peak_rss_mb"] = peak_rss_mb().into();
    Ok(out)
}
