//! The H.264 codec's writer side: x264 through libavcodec (csrc/h264_enc.c), for froster-pack.
use super::{check_size, message};
use crate::format::PixelFormat;
use std::ffi::{c_char, c_double, c_int, CString};
use std::ptr::NonNull;

#[repr(C)]
struct RawEncoder {
    _opaque: [u8; 0],
}

extern "C" {
    fn fh_enc_new(
        w: c_int,
        h: c_int,
        gop: c_int,
        crf: c_double,
        preset: *const c_char,
        params: *const c_char,
        err: *mut c_char,
        n: usize,
    ) -> *mut RawEncoder;
    fn fh_enc_free(e: *mut RawEncoder);
    fn fh_enc_send(e: *mut RawEncoder, i420: *const u8, err: *mut c_char, n: usize) -> c_int;
    fn fh_enc_receive(
        e: *mut RawEncoder,
        data: *mut *const u8,
        size: *mut usize,
        key: *mut c_int,
        err: *mut c_char,
        n: usize,
    ) -> c_int;
}

/// One single-threaded x264 encoder of `w` x `h` tight I420 frames (odd sizes padded, which the reader crops).
pub struct Encoder {
    raw: NonNull<RawEncoder>,
    frame_bytes: usize,
}

// SAFETY: x264's state is used by one thread at a time (&mut self).
unsafe impl Send for Encoder {}

impl Drop for Encoder {
    fn drop(&mut self) {
        // SAFETY: raw came from fh_enc_new and is freed once.
        unsafe { fh_enc_free(self.raw.as_ptr()) }
    }
}

impl Encoder {
    /// Opens x264 for closed GOPs of `gop` frames at rate factor `crf`, with its `preset` and its own options
    /// `params` (x264-params syntax); the reason when libav cannot.
    pub fn new(w: usize, h: usize, gop: usize, crf: f64, preset: &str, params: &str) -> Result<Self, String> {
        check_size(w, h)?;
        let cstr = |s: &str| CString::new(s).map_err(|_| format!("x264 option with a NUL byte: {s:?}"));
        let (preset, params) = (cstr(preset)?, cstr(params)?);
        let mut err = [0 as c_char; 256];
        // SAFETY: the strings and err outlive the call.
        let raw = unsafe {
            fh_enc_new(
                w as c_int,
                h as c_int,
                gop.min(1 << 16) as c_int,
                crf,
                preset.as_ptr(),
                params.as_ptr(),
                err.as_mut_ptr(),
                err.len(),
            )
        };
        let frame_bytes = PixelFormat::I420.frame_bytes(w, h);
        NonNull::new(raw).map(|raw| Encoder { raw, frame_bytes }).ok_or_else(|| message("x264", &err))
    }

    /// Sends a frame, or `None` at the end.
    pub fn send(&mut self, i420: Option<&[u8]>) -> Result<(), String> {
        if i420.is_some_and(|f| f.len() != self.frame_bytes) {
            return Err(format!("a frame of {} bytes, expected {}", i420.map_or(0, |f| f.len()), self.frame_bytes));
        }
        let mut err = [0 as c_char; 256];
        // SAFETY: the frame holds frame_bytes bytes (checked), as C reads.
        let rc = unsafe {
            fh_enc_send(self.raw.as_ptr(), i420.map_or(std::ptr::null(), |f| f.as_ptr()), err.as_mut_ptr(), err.len())
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(message("x264", &err))
        }
    }

    /// The next packet and whether it is a key frame; `None` while x264 needs more frames or at the end.
    pub fn receive(&mut self) -> Result<Option<(Vec<u8>, bool)>, String> {
        let (mut data, mut size, mut key) = (std::ptr::null(), 0usize, 0 as c_int);
        let mut err = [0 as c_char; 256];
        // SAFETY: the out-pointers are valid; the packet's bytes are copied before the next call.
        let rc =
            unsafe { fh_enc_receive(self.raw.as_ptr(), &mut data, &mut size, &mut key, err.as_mut_ptr(), err.len()) };
        match rc {
            // SAFETY: C returned a packet of `size` bytes at `data`, alive until the next receive.
            0 => Ok(Some((unsafe { std::slice::from_raw_parts(data, size) }.to_vec(), key != 0))),
            1 | 2 => Ok(None),
            _ => Err(message("x264", &err)),
        }
    }
}
