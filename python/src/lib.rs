//! The Python module `froster_loader._froster_loader`: the Rust loader's threads stream batches; Python receives
//! them without a copy (see `froster_loader/__init__.py` for the friendly layer).
mod dlpack;

use dlpack::{Buffer, Data};
use froster_loader::{
    clips_per_epoch, ClipSource, Loader as RustLoader, LoaderConfig, Mode, Output, PackReader, PackSource,
    SamplingConfig, Shard, Waited,
};
use pyo3::create_exception;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::Arc;
use std::time::Duration;

create_exception!(_froster_loader, LoaderError, PyRuntimeError, "A pack, list or clip could not be read.");

fn err(e: froster_loader::Error) -> PyErr {
    LoaderError::new_err(e.to_string())
}

/// Batches of augmented clips from a pack list (see `froster_loader.Loader`).
#[pyclass(module = "froster_loader._froster_loader")]
struct Loader {
    source: Arc<PackSource>,
    cfg: LoaderConfig,
    inner: Option<RustLoader>,
}

#[pymethods]
impl Loader {
    #[new]
    #[pyo3(signature = (packs, list="train", batch_size=8, train=true, frames=8, sampling_rate=16, crop=224, seed=0,
        rank=0, world_size=1, workers=None, output="uint8", drop_last=None, views=3, crops=1, scale=None, strict=false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        packs: &str,
        list: &str,
        batch_size: usize,
        train: bool,
        frames: usize,
        sampling_rate: usize,
        crop: usize,
        seed: u64,
        rank: usize,
        world_size: usize,
        workers: Option<usize>,
        output: &str,
        drop_last: Option<bool>,
        views: usize,
        crops: usize,
        scale: Option<(usize, usize)>,
        strict: bool,
    ) -> PyResult<Self> {
        let output = match output {
            "uint8" => Output::U8Thwc,
            "float" => Output::F32Cthw,
            other => return Err(PyValueError::new_err(format!("output '{other}': uint8 or float"))),
        };
        if world_size == 0 || rank >= world_size {
            return Err(PyValueError::new_err(format!("rank {rank} of world_size {world_size}")));
        }
        let reader = Arc::new(PackReader::open(packs).map_err(err)?);
        let source = Arc::new(PackSource::new(reader, list).map_err(err)?);
        let (lo, hi) = scale.unwrap_or((crop, crop * 8 / 7));
        let mode = if train { Mode::Train { min_scale: lo, max_scale: hi } } else { Mode::Test { scale: crop } };
        let workers = workers.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
        let sampling = SamplingConfig {
            num_frames: frames,
            sampling_rate,
            num_views: views,
            num_crops: crops,
            ..Default::default()
        };
        let cfg = LoaderConfig {
            batch_size,
            workers,
            seed,
            mode,
            crop,
            sampling,
            output,
            shuffle: train,
            drop_last: drop_last.unwrap_or(train),
            shard: Shard { rank, world: world_size },
            strict,
            ..Default::default()
        };
        Ok(Loader { source, cfg, inner: None })
    }

    /// Reshuffles for epoch `epoch` (as DistributedSampler.set_epoch); takes effect at the next iteration.
    fn set_epoch(&mut self, epoch: u64) {
        self.cfg.epoch = epoch;
    }

    /// Batches in one epoch of this rank.
    fn __len__(&self) -> usize {
        let clips = clips_per_epoch(self.source.as_ref(), &self.cfg);
        if self.cfg.drop_last && matches!(self.cfg.mode, Mode::Train { .. }) {
            clips / self.cfg.batch_size
        } else {
            clips.div_ceil(self.cfg.batch_size)
        }
    }

    fn __iter__(mut slf: PyRefMut<'_, Self>) -> PyResult<PyRefMut<'_, Self>> {
        slf.inner = None; // joins the previous epoch's threads first
        let loader = RustLoader::new(slf.source.clone(), slf.cfg.clone()).map_err(err)?;
        slf.inner = Some(loader);
        Ok(slf)
    }

    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(inner) = self.inner.as_mut() else { return Ok(None) };
        loop {
            // The GIL is released while the Rust threads work; every 100 ms, Ctrl-C gets its chance.
            match py.detach(|| inner.next_within(Duration::from_millis(100))) {
                Waited::Pending => py.check_signals()?,
                Waited::Done => {
                    self.inner = None;
                    return Ok(None);
                }
                Waited::Batch(b) => {
                    let recycler = inner.recycler();
                    return batch_dict(py, b.map_err(err)?, recycler, self.source.as_ref(), &self.cfg).map(Some);
                }
            }
        }
    }

    /// Stops the threads now (dropping the loader does the same).
    fn close(&mut self) {
        self.inner = None;
    }
}

fn batch_dict<'py>(
    py: Python<'py>,
    b: froster_loader::Batch,
    recycler: froster_loader::Recycler,
    src: &PackSource,
    cfg: &LoaderConfig,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("label", Buffer::new(Data::I64(b.labels.clone()), vec![b.labels.len()]))?;
    d.set_item("index", b.videos.clone())?;
    d.set_item("id", b.videos.iter().map(|&i| src.id(i).to_string()).collect::<Vec<_>>())?;
    if matches!(cfg.mode, Mode::Test { .. }) {
        d.set_item("view", b.views.iter().map(|v| v.0).collect::<Vec<_>>())?;
        d.set_item("crop", b.views.iter().map(|v| v.1).collect::<Vec<_>>())?;
    }
    let shape = b.shape.to_vec();
    let float = cfg.output == Output::F32Cthw;
    d.set_item("video", Buffer::new(Data::Clips { batch: b, float, recycler }, shape))?;
    Ok(d)
}

/// A pack's contents: videos, lists, frame counts, and single frames.
#[pyclass(module = "froster_loader._froster_loader")]
struct Pack {
    reader: PackReader,
}

#[pymethods]
impl Pack {
    #[new]
    fn new(path: &str) -> PyResult<Self> {
        Ok(Pack { reader: PackReader::open(path).map_err(err)? })
    }

    /// Every packed video's id, in pack order.
    #[getter]
    fn videos(&self) -> Vec<String> {
        self.reader.videos().iter().map(|v| v.id.clone()).collect()
    }

    /// The names of the pack's lists.
    #[getter]
    fn lists(&self) -> Vec<String> {
        self.reader.manifest().lists.keys().cloned().collect()
    }

    /// A list as (video id, label) pairs.
    fn list(&self, name: &str) -> PyResult<Vec<(String, i64)>> {
        let items = self.reader.list(name).map_err(err)?;
        Ok(items.iter().map(|&(v, l)| (self.reader.video(v as usize).id.clone(), l)).collect())
    }

    /// Stored frames of a video.
    fn frames(&self, video: &str) -> PyResult<u32> {
        Ok(self.reader.video(self.index(video)?).frames)
    }

    /// Stored frame `frame` of a video as RGB uint8 [H, W, 3] (checksum verified).
    fn read_frame(&self, video: &str, frame: usize) -> PyResult<Buffer> {
        let i = self.index(video)?;
        let v = self.reader.video(i);
        let rgb = self.reader.frame_rgb(i, frame).map_err(err)?;
        Ok(Buffer::new(Data::U8(rgb), vec![v.height as usize, v.width as usize, 3]))
    }
}

impl Pack {
    fn index(&self, video: &str) -> PyResult<usize> {
        self.reader.find(video).ok_or_else(|| PyValueError::new_err(format!("no video '{video}' in the pack")))
    }
}

#[pymodule]
fn _froster_loader(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Loader>()?;
    m.add_class::<Pack>()?;
    m.add_class::<Buffer>()?;
    m.add("LoaderError", m.py().get_type::<LoaderError>())?;
    Ok(())
}
