//! A CUDA side stream (one of c10's pool): work made current on it from one thread runs alongside the default
//! stream's, e.g. the next batch's copy to the device during the current step.
use crate::{call, ffi, made, Result};
use std::ffi::c_void;
use std::ptr::NonNull;
use tch::Tensor;

/// A non-blocking stream of c10's pool on one CUDA device.
pub struct SideStream {
    raw: NonNull<ffi::fs_stream>,
}

// A handle to device state: c10's pool streams live as long as the process, and nothing here is thread-bound.
unsafe impl Send for SideStream {}

impl SideStream {
    /// A stream on CUDA device `device`; fails without the device or in a build without CUDA headers.
    pub fn new(device: usize) -> Result<Self> {
        let mut err = std::ptr::null_mut();
        let raw = unsafe { ffi::fs_stream_new(device.min(i32::MAX as usize) as i32, &mut err) };
        made("CUDA stream", raw, err).map(|raw| SideStream { raw })
    }

    /// Makes this the calling thread's current stream on its device (the thread's later ops queue there; other
    /// threads keep theirs).
    pub fn make_current(&self) -> Result<()> {
        call("CUDA stream", |e| unsafe { ffi::fs_stream_make_current(self.raw.as_ptr(), e) })
    }

    /// Waits until the work queued on this stream has run.
    pub fn synchronize(&self) -> Result<()> {
        call("CUDA stream synchronize", |e| unsafe { ffi::fs_stream_synchronize(self.raw.as_ptr(), e) })
    }
}

impl Drop for SideStream {
    fn drop(&mut self) {
        unsafe { ffi::fs_stream_free(self.raw.as_ptr()) }
    }
}

/// Marks CUDA tensor `t` as used by the calling thread's current stream, so that the caching allocator does not
/// reuse its memory for the stream that made it until that use is done (`Tensor.record_stream`); an error for
/// a tensor elsewhere.
pub fn record_stream(t: &Tensor) -> Result<()> {
    call("record_stream", |e| unsafe { ffi::fs_record_stream(t.as_ptr() as *mut c_void, e) })
}
