//! The H.264 codec's frames: closed GOPs of [`H264_GOP`](crate::format::H264_GOP) stored frames, decoded by
//! libavcodec (csrc/h264_dec.c) from the GOP's key frame up to the frame asked for. libavcodec is opened with
//! dlopen at first use (csrc/av.c), so only H.264 packs need it installed.
mod encode;
pub use encode::Encoder;

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CStr};
use std::ptr::NonNull;

#[repr(C)]
struct RawDecoder {
    _opaque: [u8; 0],
}

extern "C" {
    fn fh_dec_new(err: *mut c_char, n: usize) -> *mut RawDecoder;
    fn fh_dec_free(d: *mut RawDecoder);
    fn fh_dec_reset(d: *mut RawDecoder);
    fn fh_dec_next(
        d: *mut RawDecoder,
        data: *const u8,
        size: usize,
        out: *mut u8,
        w: c_int,
        h: c_int,
        err: *mut c_char,
        n: usize,
    ) -> c_int;
    fn fh_dec_gop(
        d: *mut RawDecoder,
        data: *const *const u8,
        sizes: *const usize,
        count: c_int,
        out: *mut u8,
        w: c_int,
        h: c_int,
        err: *mut c_char,
        n: usize,
    ) -> c_int;
}

/// One single-threaded libavcodec H.264 decoder.
pub struct Decoder {
    raw: NonNull<RawDecoder>,
}

// SAFETY: the decoder holds no thread-affine state; it is used by one thread at a time (&mut self).
unsafe impl Send for Decoder {}

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: `raw` came from fh_dec_new and is freed once.
        unsafe { fh_dec_free(self.raw.as_ptr()) }
    }
}

/// "`who`: the C side's reason".
fn message(who: &str, err: &[c_char]) -> String {
    // SAFETY: the C side always writes a NUL-terminated string into the buffer (snprintf), which starts zeroed.
    format!("{who}: {}", unsafe { CStr::from_ptr(err.as_ptr()) }.to_string_lossy())
}

impl Decoder {
    /// Opens a decoder; the reason when libavcodec cannot.
    pub fn new() -> Result<Self, String> {
        let mut err = [0 as c_char; 256];
        // SAFETY: err is writable for its length.
        let raw = unsafe { fh_dec_new(err.as_mut_ptr(), err.len()) };
        NonNull::new(raw).map(|raw| Decoder { raw }).ok_or_else(|| message("h264", &err))
    }

    /// Forgets the stream [`Decoder::next`] was decoding: the next frame must be a key frame.
    pub fn reset(&mut self) {
        // SAFETY: raw is a live decoder.
        unsafe { fh_dec_reset(self.raw.as_ptr()) }
    }

    /// Decodes the next frame of a stream (no B-frames) into `out` as tight I420 of `w` x `h`.
    pub fn next(&mut self, frame: &[u8], w: usize, h: usize, out: &mut Vec<u8>) -> Result<(), String> {
        check_size(w, h)?;
        out.resize(crate::format::PixelFormat::I420.frame_bytes(w, h), 0);
        let mut err = [0 as c_char; 256];
        // SAFETY: frame is a live slice; out holds the I420 bytes of w x h, which is all C writes.
        let rc = unsafe {
            let (data, raw) = (frame.as_ptr(), self.raw.as_ptr());
            fh_dec_next(raw, data, frame.len(), out.as_mut_ptr(), w as c_int, h as c_int, err.as_mut_ptr(), err.len())
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(message("h264", &err))
        }
    }

    /// Decodes `gop` (a key frame's bytes, then those of the frames after it) and writes the last picture into
    /// `out` as tight I420 of `w` x `h`.
    pub fn decode_last(&mut self, gop: &[&[u8]], w: usize, h: usize, out: &mut Vec<u8>) -> Result<(), String> {
        check_size(w, h)?;
        if gop.is_empty() || gop.len() > i32::MAX as usize {
            return Err(format!("a GOP of {} frames", gop.len()));
        }
        out.resize(crate::format::PixelFormat::I420.frame_bytes(w, h), 0);
        let data: Vec<*const u8> = gop.iter().map(|g| g.as_ptr()).collect();
        let sizes: Vec<usize> = gop.iter().map(|g| g.len()).collect();
        let mut err = [0 as c_char; 256];
        // SAFETY: data/sizes describe live slices; out holds the I420 bytes of w x h, which is all C writes.
        let rc = unsafe {
            fh_dec_gop(
                self.raw.as_ptr(),
                data.as_ptr(),
                sizes.as_ptr(),
                gop.len() as c_int,
                out.as_mut_ptr(),
                w as c_int,
                h as c_int,
                err.as_mut_ptr(),
                err.len(),
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(message("h264", &err))
        }
    }
}

fn check_size(w: usize, h: usize) -> Result<(), String> {
    if w == 0 || h == 0 || w > 1 << 16 || h > 1 << 16 {
        return Err(format!("no H.264 picture is {w}x{h}"));
    }
    Ok(())
}

thread_local! {
    /// One decoder per thread, opened on first use: opening costs more than decoding a GOP.
    static DECODER: RefCell<Option<Decoder>> = const { RefCell::new(None) };
}

/// [`Decoder::decode_last`] on this thread's decoder.
pub fn decode_last(gop: &[&[u8]], w: usize, h: usize, out: &mut Vec<u8>) -> Result<(), String> {
    DECODER.with(|d| {
        let mut d = d.borrow_mut();
        if d.is_none() {
            *d = Some(Decoder::new()?);
        }
        d.as_mut().expect("opened above").decode_last(gop, w, h, out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::PixelFormat;
    use crate::jpeg::psnr;

    /// A moving square on a gradient, `n` frames of odd size `w` x `h` (tight I420).
    fn frames(n: usize, w: usize, h: usize) -> Vec<Vec<u8>> {
        let size = PixelFormat::I420.frame_bytes(w, h);
        (0..n)
            .map(|t| {
                let mut f = vec![128u8; size];
                for y in 0..h {
                    for x in 0..w {
                        let inside = (x + 2 * t) % w < 8 && y > 4 && y < 14;
                        f[y * w + x] = if inside { 230 } else { (16 + 4 * x + 2 * y) as u8 };
                    }
                }
                f
            })
            .collect()
    }

    fn encode(src: &[Vec<u8>], w: usize, h: usize) -> Vec<(Vec<u8>, bool)> {
        let mut e = Encoder::new(w, h, 4, 8.0, "veryfast", "keyint=4:min-keyint=4:scenecut=0:bframes=0").unwrap();
        let mut out = Vec::new();
        for f in src.iter().map(Some).chain([None]) {
            e.send(f.map(|f| f.as_slice())).unwrap();
            while let Some(p) = e.receive().unwrap() {
                out.push(p);
            }
        }
        out
    }

    #[test]
    fn odd_sized_frames_round_trip_in_closed_gops_by_either_path() {
        let (w, h) = (37, 23);
        let src = frames(9, w, h);
        let packets = encode(&src, w, h);
        let keys: Vec<bool> = packets.iter().map(|p| p.1).collect();
        assert_eq!(keys, (0..9).map(|j| j % 4 == 0).collect::<Vec<_>>());
        let mut stream = Decoder::new().unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for (j, (bytes, key)) in packets.iter().enumerate() {
            if *key {
                stream.reset();
            }
            stream.next(bytes, w, h, &mut a).unwrap();
            let gop: Vec<&[u8]> = packets[j - j % 4..=j].iter().map(|p| p.0.as_slice()).collect();
            decode_last(&gop, w, h, &mut b).unwrap();
            assert!(a == b, "frame {j}: the GOP read differs from the stream's");
            assert!(psnr(&src[j], &a) > 35.0, "frame {j}: {:.1} dB", psnr(&src[j], &a));
        }
    }

    #[test]
    fn damaged_or_mismatched_input_is_an_error_not_a_panic() {
        let mut out = Vec::new();
        assert!(decode_last(&[], 16, 16, &mut out).is_err());
        assert!(decode_last(&[b"not an h264 access unit".as_slice()], 16, 16, &mut out).is_err());
        assert!(decode_last(&[&[0, 0, 0, 1, 0x65, 0xff, 0x00]], 16, 16, &mut out).is_err());
        let (w, h) = (37, 23);
        let packets = encode(&frames(2, w, h), w, h);
        let err = decode_last(&[&packets[0].0], 64, 64, &mut out).unwrap_err();
        assert!(err.contains("38x24") && err.contains("64x64"), "{err}");
        assert!(decode_last(&[&packets[0].0], 0, 16, &mut out).is_err());
        assert!(Encoder::new(0, 10, 4, 20.0, "veryfast", "").is_err());
        assert!(Encoder::new(16, 16, 4, 20.0, "no-such-preset", "").is_err());
        let mut e = Encoder::new(16, 16, 4, 20.0, "veryfast", "").unwrap();
        assert!(e.send(Some(&[0u8; 7])).is_err(), "a frame of the wrong size");
    }
}
