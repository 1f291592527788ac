//! CUDA graphs (libtorch's `at::cuda::CUDAGraph`): a step's kernels recorded once and launched again as one graph,
//! which takes the CPU's launch work (thousands of kernels, each a few microseconds) out of every later step.
use crate::{call, ffi, made, panic_message, Error, Result};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;

/// One captured piece of work on a CUDA device, with a side stream of its own. Every call waits for the device
/// before and after, so the graph's stream needs no other ordering with the default stream's work.
pub struct CudaGraph {
    raw: NonNull<ffi::fs_graph>,
    device: usize,
}

// The graph and its stream are plain device state; every call sets and restores the calling thread's current
// stream within itself.
unsafe impl Send for CudaGraph {}

impl CudaGraph {
    /// A graph on CUDA device `device`; fails without the device or in a build without CUDA headers.
    pub fn new(device: usize) -> Result<Self> {
        let mut err = std::ptr::null_mut();
        let raw = unsafe { ffi::fs_graph_new(device.min(i32::MAX as usize) as i32, &mut err) };
        made("CUDA graph", raw, err).map(|raw| CudaGraph { raw, device })
    }

    /// Runs `f` eagerly on the graph's stream: the warm-up that makes the stream's library handles and
    /// workspaces before a capture.
    pub fn on_stream<T>(&mut self, f: impl FnOnce() -> T) -> Result<T> {
        self.within("CUDA graph stream", |_| Ok(()), f, |_| Ok(()))
    }

    /// Records `f`'s device work into the graph instead of running it (tensors `f` makes live in the graph's
    /// memory pool, and each replay rewrites them in place). An op that cannot be recorded (one waiting for the
    /// device, a copy from pageable host memory) makes this an error, as does a panic in `f` (tch's way of
    /// failing an op); the graph is then unusable.
    pub fn capture<T>(&mut self, f: impl FnOnce() -> T) -> Result<T> {
        let begin =
            |g: *mut ffi::fs_graph| call("CUDA graph capture", |e| unsafe { ffi::fs_graph_capture_begin(g, e) });
        let end = |g: *mut ffi::fs_graph| call("CUDA graph capture", |e| unsafe { ffi::fs_graph_capture_end(g, e) });
        self.within("CUDA graph capture", begin, f, end)
    }

    /// Runs the captured work again on the graph's stream and waits for it.
    pub fn replay(&mut self) -> Result<()> {
        let replay = |g: *mut ffi::fs_graph| call("CUDA graph replay", |e| unsafe { ffi::fs_graph_replay(g, e) });
        self.within("CUDA graph replay", replay, || (), |_| Ok(()))
    }

    /// `before`, `f` and `after` with the graph's stream current, the device waited for on both sides; `after`
    /// runs whenever `before` succeeded, even if `f` panicked (a capture begun is always ended).
    fn within<T>(
        &mut self,
        op: &'static str,
        before: impl FnOnce(*mut ffi::fs_graph) -> Result<()>,
        f: impl FnOnce() -> T,
        after: impl FnOnce(*mut ffi::fs_graph) -> Result<()>,
    ) -> Result<T> {
        let g = self.raw.as_ptr();
        tch::Cuda::synchronize(self.device as i64);
        call(op, |e| unsafe { ffi::fs_graph_enter(g, e) })?;
        let ran = before(g).map(|_| catch_unwind(AssertUnwindSafe(f)));
        let ended = if ran.is_ok() { after(g) } else { Ok(()) };
        let exited = call(op, |e| unsafe { ffi::fs_graph_exit(g, e) });
        tch::Cuda::synchronize(self.device as i64);
        let value = ran?.map_err(|p| Error::Local { op, message: panic_message(p) })?;
        ended?;
        exited?;
        Ok(value)
    }
}

impl Drop for CudaGraph {
    fn drop(&mut self) {
        unsafe { ffi::fs_graph_free(self.raw.as_ptr()) }
    }
}
