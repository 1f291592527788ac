//! index sampler -> N decode/augment workers -> batcher, joined by bounded crossbeam channels.
//! Each clip draws its randomness from (seed, epoch, position), and the batcher restores the order, so batches
//! are byte-identical whatever the worker count.
use crate::augment::{self, Frame, Spatial};
use crate::dist::{epoch_indices, EpochOrder};
use crate::error::{Error, Result};
use crate::format::PixelFormat;
use crate::rng::Rng;
use crate::sampling::{sample, Start};
pub use crate::settings::{Batch, LoaderConfig, Mode, Output, CLIP_MEAN, CLIP_STD};
use crate::source::{ClipSource, Scratch};
use crossbeam_channel::{bounded, Receiver, Sender};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

struct Work {
    seq: usize,
    /// The clip's place in the whole (unsharded) epoch: its augmentation stream, so that the ranks of a
    /// data-parallel run draw exactly what one process would.
    key: u64,
    video: usize,
    view: usize,
    crop: usize,
}

/// A finished clip: its pixels, video, (view, crop) and label.
type Clip = (Vec<u8>, usize, (usize, usize), i64);

struct Done {
    seq: usize,
    clip: Option<Clip>,
    err: Option<Error>,
}

/// A running loader for one epoch; iterate it for batches. Dropping it stops and joins every thread.
pub struct Loader {
    batches: Receiver<Result<Batch>>,
    recycled: Sender<Batch>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    skipped: Arc<Mutex<Vec<String>>>,
}

impl Loader {
    /// Starts the worker threads for one epoch of `source`; batches come from the iterator.
    pub fn new(source: Arc<dyn ClipSource>, cfg: LoaderConfig) -> Result<Self> {
        if cfg.batch_size == 0 || cfg.crop == 0 || cfg.sampling.num_frames == 0 {
            return Err(Error::InvalidConfig("batch size, crop and NUM_FRAMES must be positive".into()));
        }
        let mut work = work_items(source.as_ref(), &cfg);
        let total = work.len();
        work.retain(|w| w.seq >= cfg.skip);
        let workers = cfg.workers.max(1);
        let depth = workers * cfg.prefetch.max(1);
        let (work_tx, work_rx) = bounded::<Work>(depth);
        let (done_tx, done_rx) = bounded::<Done>(depth);
        let (pool_tx, pool_rx) = bounded::<Vec<u8>>(depth * 2 + workers);
        let (batch_tx, batch_rx) = bounded::<Result<Batch>>(cfg.prefetch.max(1));
        let (recycle_tx, recycle_rx) = bounded::<Batch>(cfg.prefetch.max(1) + 2);
        let stop = Arc::new(AtomicBool::new(false));
        let skipped = Arc::new(Mutex::new(Vec::new()));
        let mut threads = Vec::new();
        let s = stop.clone();
        threads.push(std::thread::spawn(move || {
            for w in work {
                if s.load(Ordering::Relaxed) || work_tx.send(w).is_err() {
                    break;
                }
            }
        }));
        for _ in 0..workers {
            let (rx, tx, pool, src, cfg, s) =
                (work_rx.clone(), done_tx.clone(), pool_rx.clone(), source.clone(), cfg.clone(), stop.clone());
            threads.push(std::thread::spawn(move || worker(rx, tx, pool, src.as_ref(), &cfg, &s)));
        }
        drop(done_tx);
        let (s, k) = (stop.clone(), skipped.clone());
        let chans = Chans { rx: done_rx, tx: batch_tx, pool: pool_tx, recycled: recycle_rx };
        threads.push(std::thread::spawn(move || batcher(chans, total, &cfg, &s, &k)));
        Ok(Loader { batches: batch_rx, recycled: recycle_tx, stop, threads, skipped })
    }

    /// Hands a consumed batch back so that its buffers are reused (fresh memory costs page faults).
    pub fn recycle(&self, batch: Batch) {
        let _ = self.recycled.try_send(batch);
    }

    /// A handle that gives consumed batches back from elsewhere (another thread, a Python buffer's destructor).
    pub fn recycler(&self) -> Recycler {
        Recycler(self.recycled.clone())
    }

    /// Clips skipped so far as bad (lenient mode).
    pub fn skipped(&self) -> usize {
        self.skipped.lock().map(|v| v.len()).unwrap_or(0)
    }

    /// Why each skipped clip was skipped (the video and the error), in order.
    pub fn skip_reasons(&self) -> Vec<String> {
        self.skipped.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// Gives consumed batches back to their loader for reuse; batches of a loader that is gone are simply freed.
#[derive(Debug, Clone)]
pub struct Recycler(Sender<Batch>);

impl Recycler {
    /// Hands `batch` back.
    pub fn recycle(&self, batch: Batch) {
        let _ = self.0.try_send(batch);
    }
}

/// What [`Loader::next_within`] found.
#[derive(Debug)]
pub enum Waited {
    /// The next batch (or its error).
    Batch(Result<Batch>),
    /// The epoch is over.
    Done,
    /// Nothing yet: the caller may check for an interrupt and wait again.
    Pending,
}

impl Loader {
    /// The next batch, waiting at most `timeout` (so that a caller, Python say, can react to Ctrl-C).
    pub fn next_within(&mut self, timeout: std::time::Duration) -> Waited {
        match self.batches.recv_timeout(timeout) {
            Ok(b) => Waited::Batch(b),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => Waited::Pending,
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Waited::Done,
        }
    }
}

impl Iterator for Loader {
    type Item = Result<Batch>;
    fn next(&mut self) -> Option<Self::Item> {
        self.batches.recv().ok()
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Drain so that blocked senders wake up and see the stop flag.
        while self.batches.try_recv().is_ok() {}
        let (_, dead) = bounded(0);
        self.batches = dead;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// How many clips one epoch yields before bad-clip skipping (after sharding, views and crops).
pub fn clips_per_epoch(source: &dyn ClipSource, cfg: &LoaderConfig) -> usize {
    work_items(source, cfg).len()
}

fn work_items(source: &dyn ClipSource, cfg: &LoaderConfig) -> Vec<Work> {
    let train = matches!(cfg.mode, Mode::Train { .. });
    let order = EpochOrder {
        seed: cfg.seed,
        epoch: cfg.epoch,
        shuffle: cfg.shuffle && train,
        drop_last: cfg.drop_last && train,
    };
    let (rank, world) = (cfg.shard.rank, cfg.shard.world.max(1));
    let idx = match train {
        true => epoch_indices(source.len(), order, cfg.shard),
        // Evaluation splits the videos without DistributedSampler's padding: a repeated video would be scored
        // twice when the ranks' logits are summed.
        false => (0..source.len()).skip(rank).step_by(world).collect(),
    };
    let (views, crops) = if train { (1, 1) } else { (cfg.sampling.num_views.max(1), cfg.sampling.num_crops.max(1)) };
    let mut out = Vec::with_capacity(idx.len() * views * crops);
    for (j, video) in idx.into_iter().enumerate() {
        for view in 0..views {
            for crop in 0..crops {
                let key = (((j * world + rank) * views + view) * crops + crop) as u64;
                out.push(Work { seq: out.len(), key, video, view, crop });
            }
        }
    }
    out
}

fn worker(
    rx: Receiver<Work>,
    tx: Sender<Done>,
    pool: Receiver<Vec<u8>>,
    src: &dyn ClipSource,
    cfg: &LoaderConfig,
    stop: &AtomicBool,
) {
    let mut scratch = Scratch::new();
    for w in rx {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let mut buf = pool.try_recv().unwrap_or_default();
        let done = match make_clip(src, cfg, &w, &mut scratch, &mut buf) {
            Ok(()) => Done { seq: w.seq, clip: Some((buf, w.video, (w.view, w.crop), src.label(w.video))), err: None },
            Err(e) => Done { seq: w.seq, clip: None, err: Some(e) },
        };
        if tx.send(done).is_err() {
            break;
        }
    }
}

/// Samples, decodes and augments one clip into `out` as uint8 (T, crop, crop, 3).
fn make_clip(src: &dyn ClipSource, cfg: &LoaderConfig, w: &Work, s: &mut Scratch, out: &mut Vec<u8>) -> Result<()> {
    let stream = src.stream(w.video)?;
    let mut rng = Rng::keyed(cfg.seed, cfg.epoch, w.key);
    let start = match cfg.mode {
        Mode::Train { .. } => Start::Train(rng.uniform()),
        Mode::Test { .. } => Start::View(w.view),
    };
    let window = sample(&stream, &cfg.sampling, start);
    let layout = src.read(w.video, &window.indices, s)?;
    let (fw, fh) = (layout.width, layout.height);
    let spatial: Spatial = match cfg.mode {
        Mode::Train { min_scale, max_scale } => {
            augment::train_spatial(fw, fh, min_scale, max_scale, cfg.crop, &mut rng)
        }
        Mode::Test { scale } => {
            let idx = if cfg.sampling.num_crops == 1 { 1 } else { w.crop };
            augment::test_spatial(fw, fh, scale, cfg.crop, idx)
        }
    };
    let plan = augment::Plan::new(fw, fh, spatial);
    let per = cfg.crop * cfg.crop * 3;
    out.resize(per * window.indices.len(), 0);
    for (k, frame) in s.frames.iter().take(window.indices.len()).enumerate() {
        // The clamped window end repeats its last frame: copy the output instead of resampling it again.
        if k > 0 && window.indices[k] == window.indices[k - 1] {
            out.copy_within((k - 1) * per..k * per, k * per);
            continue;
        }
        let frame = match layout.pixel {
            PixelFormat::Rgb => Frame::Rgb(frame),
            PixelFormat::I420 => Frame::I420(frame),
        };
        augment::apply(frame, &plan, &mut out[k * per..(k + 1) * per], &mut s.resize);
    }
    Ok(())
}

/// The batcher's channels: finished clips in, batches out, clip buffers back to workers, batches back from the
/// consumer.
struct Chans {
    rx: Receiver<Done>,
    tx: Sender<Result<Batch>>,
    pool: Sender<Vec<u8>>,
    recycled: Receiver<Batch>,
}

fn batcher(ch: Chans, total: usize, cfg: &LoaderConfig, stop: &AtomicBool, skipped: &Mutex<Vec<String>>) {
    let Chans { rx, tx, pool, recycled } = ch;
    let mut pending = BTreeMap::new();
    let mut next = cfg.skip;
    let mut batch = new_batch(cfg, &recycled);
    for d in rx {
        pending.insert(d.seq, d);
        while let Some(d) = pending.remove(&next) {
            next += 1;
            match (d.clip, d.err) {
                (Some((clip, video, view, label)), _) => {
                    push_clip(&mut batch, cfg, &clip, video, view, label);
                    let _ = pool.try_send(clip);
                }
                (None, Some(e)) if cfg.strict => {
                    let _ = tx.send(Err(e));
                    stop.store(true, Ordering::Relaxed);
                    return;
                }
                (None, e) => {
                    let reason = e.map(|e| e.to_string()).unwrap_or_else(|| "no frames".into());
                    if let Ok(mut v) = skipped.lock() {
                        v.push(reason);
                    }
                }
            }
            if batch.labels.len() == cfg.batch_size
                && tx.send(Ok(std::mem::replace(&mut batch, new_batch(cfg, &recycled)))).is_err()
            {
                return;
            }
        }
        if stop.load(Ordering::Relaxed) {
            return;
        }
    }
    let partial_ok = !(cfg.drop_last && matches!(cfg.mode, Mode::Train { .. }));
    if next >= total && !batch.labels.is_empty() && partial_ok {
        let _ = tx.send(Ok(batch));
    }
}

fn new_batch(cfg: &LoaderConfig, recycled: &Receiver<Batch>) -> Batch {
    let t = cfg.sampling.num_frames;
    let shape = match cfg.output {
        Output::U8Thwc => [0, t, cfg.crop, cfg.crop, 3],
        Output::F32Cthw => [0, 3, t, cfg.crop, cfg.crop],
    };
    let mut b = recycled.try_recv().unwrap_or_default();
    b.u8.clear();
    b.f32.clear();
    b.labels.clear();
    b.videos.clear();
    b.views.clear();
    b.shape = shape;
    b
}

fn push_clip(b: &mut Batch, cfg: &LoaderConfig, clip: &[u8], video: usize, view: (usize, usize), label: i64) {
    match cfg.output {
        Output::U8Thwc => b.u8.extend_from_slice(clip),
        Output::F32Cthw => {
            let (t, hw) = (cfg.sampling.num_frames, cfg.crop * cfg.crop);
            let base = b.f32.len();
            b.f32.resize(base + 3 * t * hw, 0.0);
            let out = &mut b.f32[base..];
            for ti in 0..t {
                for p in 0..hw {
                    for c in 0..3 {
                        let v = clip[(ti * hw + p) * 3 + c] as f32 / 255.0;
                        out[(c * t + ti) * hw + p] = (v - CLIP_MEAN[c]) / CLIP_STD[c];
                    }
                }
            }
        }
    }
    b.shape[0] += 1;
    b.labels.push(label);
    b.videos.push(video);
    b.views.push(view);
}
