//! The feed: the loader's batches on the device, optionally one step ahead.
//!
//! Without prefetch the step's thread takes a batch and copies it over the bus between steps, while the device
//! waits. With prefetch a thread of the feed's own takes the next batches and moves them meanwhile: on CUDA
//! through pinned memory on a side stream of its own (the copy engine runs beside the step's kernels), elsewhere
//! as the same conversion on another thread. Either way the same batches come in the same order: prefetch changes
//! when a batch moves, never which.
use crate::error::{Error, Result};
use crate::input::Clips;
use crossbeam_channel::{bounded, Receiver};
use froster_loader::{Batch, Loader};
use std::thread::JoinHandle;
use tch::Device;

/// One loader batch on the device, with what scoring needs of it.
pub struct Fed {
    /// The clips and labels on the device.
    pub clips: Clips,
    /// The batch's video ids (one per clip).
    pub videos: Vec<usize>,
    /// The batch's labels (one per clip).
    pub labels: Vec<i64>,
    /// Clips the loader had skipped as bad when this batch came out of it.
    skipped: usize,
}

/// Batches of one loader, on the device.
pub struct Feed {
    how: How,
    device: Device,
    /// [`Fed::skipped`] of the last batch handed out.
    skipped: usize,
}

enum How {
    Direct(Loader),
    /// The thread moving batches ahead, and its loader once it has ended.
    Ahead {
        rx: Option<Receiver<Result<Fed>>>,
        thread: Option<JoinHandle<Loader>>,
        ended: Option<Loader>,
    },
}

/// Whether a feed on `device` moves batches ahead unless told otherwise: on CUDA, where its thread only copies
/// and queues device work; not on the CPU, where it would take cores from the step.
pub fn prefetch_by_default(device: Device) -> bool {
    device.is_cuda()
}

impl Feed {
    /// The batches of `loader` on `device`. With `prefetch`, up to `ahead` (at least 1) batches are moved while the
    /// caller works on earlier ones: a step's worth of micro-batches keeps the next step's ready.
    pub fn new(loader: Loader, device: Device, prefetch: bool, ahead: usize) -> Result<Self> {
        let how = match prefetch {
            false => How::Direct(loader),
            true => {
                let stream = match device {
                    Device::Cuda(i) => Some(froster_shim::SideStream::new(i).map_err(|e| feed_err(device, e))?),
                    _ => None,
                };
                // A rendezvous channel holds none: one batch waits in the thread's send, `ahead - 1` in the channel.
                let (tx, rx) = bounded(ahead.max(1) - 1);
                let thread = std::thread::Builder::new()
                    .name("froster-feed".into())
                    .spawn(move || ahead_thread(loader, device, stream, tx))
                    .map_err(|e| Error::Feed(format!("cannot start the feed's thread: {e}")))?;
                How::Ahead { rx: Some(rx), thread: Some(thread), ended: None }
            }
        };
        Ok(Feed { how, device, skipped: 0 })
    }

    /// Stops the feed; why each clip skipped up to the last batch handed out was skipped (what the loader said
    /// when that batch came out of it: batches moved ahead and never handed out do not count).
    pub fn finish(mut self) -> Vec<String> {
        let mut reasons = self.stop().map(|l| l.skip_reasons()).unwrap_or_default();
        reasons.truncate(self.skipped);
        reasons
    }

    /// Ends the feed's thread, if any (waiting for it), and returns the loader; later calls return None.
    fn stop(&mut self) -> Option<Loader> {
        match std::mem::replace(&mut self.how, How::Ahead { rx: None, thread: None, ended: None }) {
            How::Direct(loader) => Some(loader),
            How::Ahead { rx, thread, ended } => {
                drop(rx); // the thread's next send fails, and it returns its loader
                ended.or_else(|| thread.and_then(|t| t.join().ok()))
            }
        }
    }
}

impl Iterator for Feed {
    type Item = Result<Fed>;

    /// The next batch on the device (its error as the loader's), None at the end of the epoch.
    fn next(&mut self) -> Option<Result<Fed>> {
        let fed = match &mut self.how {
            How::Direct(loader) => {
                let b = loader.next()?;
                let skipped = loader.skipped();
                b.map_err(Error::from).map(|b| {
                    let fed = Fed::from_batch(&b, self.device, skipped, false);
                    loader.recycle(b);
                    fed
                })
            }
            How::Ahead { rx, thread, ended } => match rx.as_ref()?.recv() {
                // The step's stream reads it now: its memory is not reused before that work is done.
                Ok(fed) => fed.and_then(|f| f.used_here(self.device)),
                // The thread has ended: at the loader's end (the epoch's), or by a panic, which must not pass for
                // the end of the epoch.
                Err(_) => {
                    drop(rx.take());
                    match thread.take()?.join() {
                        Ok(loader) => {
                            *ended = Some(loader);
                            return None;
                        }
                        Err(p) => {
                            Err(Error::Feed(format!("the feed's thread stopped: {}", froster_shim::panic_message(p))))
                        }
                    }
                }
            },
        };
        if let Ok(f) = &fed {
            self.skipped = f.skipped;
        }
        Some(fed)
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Fed {
    fn from_batch(b: &Batch, device: Device, skipped: usize, ahead: bool) -> Fed {
        let clips = if ahead { Clips::from_batch_ahead(b, device) } else { Clips::from_batch(b, device) };
        Fed { clips, videos: b.videos.clone(), labels: b.labels.clone(), skipped }
    }

    /// Marks the tensors as used by the calling thread's stream (CUDA; nothing to do elsewhere).
    fn used_here(self, device: Device) -> Result<Fed> {
        if device.is_cuda() {
            for t in [&self.clips.video, &self.clips.labels] {
                froster_shim::record_stream(t).map_err(|e| feed_err(device, e))?;
            }
        }
        Ok(self)
    }
}

/// The feed's thread: batches moved on its own stream (CUDA) and waited for there, then handed over in order.
/// Ends at the loader's end, at its first error (handed over), or when the feed is dropped; returns the loader.
fn ahead_thread(
    mut loader: Loader,
    device: Device,
    stream: Option<froster_shim::SideStream>,
    tx: crossbeam_channel::Sender<Result<Fed>>,
) -> Loader {
    if let Some(Err(e)) = stream.as_ref().map(|s| s.make_current()) {
        let _ = tx.send(Err(feed_err(device, e)));
        return loader;
    }
    while let Some(b) = loader.next() {
        let skipped = loader.skipped();
        let fed = b.map_err(Error::from).and_then(|b| {
            // A failing op (device memory, say) panics in tch: it is this batch's error, not a silent end.
            let fed =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Fed::from_batch(&b, device, skipped, true)))
                    .map_err(|p| {
                        Error::Feed(format!("moving a batch to {device:?}: {}", froster_shim::panic_message(p)))
                    });
            loader.recycle(b);
            let fed = fed?;
            // Handed over only once its copy is done: the step never waits on this stream.
            match &stream {
                Some(s) => s.synchronize().map(|_| fed).map_err(|e| feed_err(device, e)),
                None => Ok(fed),
            }
        });
        let failed = fed.is_err();
        if tx.send(fed).is_err() || failed {
            break;
        }
    }
    loader
}

fn feed_err(device: Device, e: froster_shim::Error) -> Error {
    Error::Feed(format!("moving batches to {device:?} ahead of the step: {e}"))
}
