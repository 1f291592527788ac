//! Decodes one video with GStreamer and compresses its frames.
use crate::error::VideoError;
use crate::h264::{crf_ladder, Stop};
use crate::store::Store;
use crate::writer::EncodedVideo;
use froster_loader::format::{Codec, PixelFormat, VideoEntry};
use froster_loader::probe;
use froster_loader::{decode_timed, DecodeOptions};
use std::path::Path;

/// How videos are stored: decoding (size, pixels), frames kept, compression.
#[derive(Debug, Clone, Copy)]
pub struct EncodeOptions {
    /// Decoding: short side and pixel format.
    pub decode: DecodeOptions,
    /// Store every Nth frame.
    pub keep_every: u32,
    /// zstd level of the frames (lossless).
    pub zstd_level: i32,
    /// Lossless (zstd), temporal (lossless, zstd of frame differences), or within `psnr_floor`: H.264 (short
    /// closed GOPs, the default) or JPEG.
    pub codec: Codec,
    /// Lossy codecs: the PSNR (dB) every stored frame must keep against the lossless RGB.
    pub psnr_floor: f64,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            decode: DecodeOptions::default(),
            keep_every: 1,
            zstd_level: 3,
            codec: Codec::H264,
            psnr_floor: 40.0,
        }
    }
}

impl EncodeOptions {
    /// The pixel format reading the pack gives: the decoder's for lossless, I420 for H.264, RGB for JPEG.
    pub fn stored_pixel(&self) -> PixelFormat {
        match self.codec {
            Codec::Lossless | Codec::Temporal => self.decode.pixel,
            Codec::H264 => PixelFormat::I420,
            Codec::Jpeg => PixelFormat::Rgb,
        }
    }
}

/// Decodes `path` and compresses every kept frame. The error says why (the caller knows the path). H.264 tries
/// each rate factor of [`crf_ladder`] in turn until every frame keeps the floor (a new decode per rung).
pub fn encode_video(id: &str, path: &Path, opts: &EncodeOptions) -> Result<EncodedVideo, VideoError> {
    if opts.codec != Codec::H264 {
        return attempt(id, path, opts, 0.0);
    }
    let (mut below, ladder) = (String::new(), crf_ladder(opts.psnr_floor));
    for &crf in &ladder {
        match attempt(id, path, opts, crf) {
            Err(VideoError::Fidelity(why)) => below = why,
            done => return done,
        }
    }
    Err(VideoError::Fidelity(format!("{below} even at x264 CRF {}", ladder[ladder.len() - 1])))
}

/// One decode of `path` into `opts.codec` (at rate factor `crf` for H.264).
fn attempt(id: &str, path: &Path, opts: &EncodeOptions, crf: f64) -> Result<EncodedVideo, VideoError> {
    let source_bytes = std::fs::metadata(path).map(|m| m.len()).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => VideoError::NotFound,
        _ => VideoError::Io(e),
    })?;
    let cont = probe(path);
    let keep = opts.keep_every.max(1) as usize;
    // Some decoders emit one frame more than the container holds (packed-B-frame AVIs through avdec_mpeg4 repeat
    // the last picture at EOS); the container's count is what ffprobe and the reference see.
    let limit = cont.frames.map(|n| n as usize).unwrap_or(usize::MAX);
    // Lossy codecs encode from I420 (the loader's own RGB conversion is the reference the floor is kept to).
    let decode =
        if opts.codec.is_lossy() { DecodeOptions { pixel: PixelFormat::I420, ..opts.decode } } else { opts.decode };
    let mut store = Store::new(opts, crf).map_err(VideoError::Io)?;
    let (mut frames, mut stop) = (Vec::new(), None);
    let decoded = decode_timed(path, &decode, None, None, None, |i, px, w, h| {
        if i % keep == 0 && i < limit {
            if let Err(why) = store.push(px, w as usize, h as usize, &mut frames) {
                stop = Some(why);
                return Err(froster_loader::Error::Decode { path: path.into(), reason: String::new() });
            }
        }
        Ok(())
    });
    let stopped = |why| match why {
        Stop::Below(why) => VideoError::Fidelity(why),
        Stop::Codec(why) => VideoError::Encode(why),
    };
    if let Some(why) = stop {
        return Err(stopped(why));
    }
    let (info, stamps) = decoded.map_err(|e| match e {
        froster_loader::Error::Decode { reason, .. } => VideoError::Decode(reason),
        other => VideoError::Decode(other.to_string()),
    })?;
    let psnrs = store.finish(&mut frames).map_err(stopped)?;
    let decoded = info.frames.min(limit as u32);
    let header = cont.frames.unwrap_or(decoded).max(decoded);
    // A header that over-counts (variable-frame-rate sources, a cut tail) is common and the reference trains on
    // such videos: packed with the frames that decode, and reported. Less than half is a truncated file.
    if decoded * 2 < header {
        return Err(VideoError::Truncated { decoded, expected: header });
    }
    let over = (header > decoded + 2).then(|| format!("header counts {header} frames, {decoded} decode"));
    // Players turn such a video; the reference's PyAV decode does not, and neither does the pack: reported.
    let turned = info.orientation.map(|o| format!("orientation metadata '{o}' not applied (stored as coded)"));
    // A damaged bitstream: the decoder concealed errors. Past one per ten frames the frames are not worth
    // training on; fewer are reported.
    if info.decode_errors * 10 > decoded.max(1) {
        return Err(VideoError::Damaged { errors: info.decode_errors, frames: decoded });
    }
    let damaged = (info.decode_errors > 0).then(|| {
        format!("the decoder concealed {} errors in {decoded} frames (damaged bitstream)", info.decode_errors)
    });
    let warning = [over, turned, damaged].into_iter().flatten().collect::<Vec<_>>().join("; ");
    let warning = (!warning.is_empty()).then_some(warning);
    let decoder_fps = if info.fps_num > 0 { (info.fps_num, info.fps_den) } else { (30, 1) };
    let pts = cont.pts_ticks(&stamps, decoded as usize, decoder_fps.0 as f64 / decoder_fps.1 as f64);
    let timing = cont.timing(pts.len(), decoder_fps);
    let (fps_num, fps_den) = timing.fps;
    let entry = VideoEntry {
        id: id.to_string(),
        shard: 0,
        offset: 0,
        frames: frames.len() as u32,
        source_frames: decoded,
        // 0: the container does not count its frames (Matroska, WebM), and the reference decodes them all.
        header_frames: if cont.frames.is_some() { header } else { 0 },
        width: info.width,
        height: info.height,
        fps_num,
        fps_den,
        ticks_per_frame: timing.ticks_per_frame,
        stride: keep as u32,
        bytes: 0,
        source_bytes,
        table_crc: 0,
        // Capped at 100 dB (an exact frame's PSNR is infinite, which JSON cannot hold).
        psnr: (!psnrs.is_empty()).then(|| {
            let mean = psnrs.iter().map(|p| p.min(100.0)).sum::<f64>() / psnrs.len() as f64;
            [mean as f32, psnrs.iter().cloned().fold(100.0, f64::min) as f32]
        }),
        warning,
    };
    Ok(EncodedVideo { entry, frames, pts })
}
