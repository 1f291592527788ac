//! How one video's decoded frames become stored frames, per codec.
use crate::encode::EncodeOptions;
use crate::h264::{H264Writer, Stop};
use crate::jpeg::{encode_frame, JpegScratch};
use froster_loader::format::{Codec, TEMPORAL_GOP};

/// Stored frames with their crc32.
pub type Frames = Vec<(Vec<u8>, u32)>;

/// One video's encoder state.
pub enum Store {
    /// Lossless and temporal: zstd of each frame, or of its difference from the previous one.
    Zstd { comp: zstd::bulk::Compressor<'static>, temporal: bool, previous: Vec<u8>, delta: Vec<u8> },
    /// JPEG per frame within the floor.
    Jpeg { scratch: JpegScratch, floor: f64, psnrs: Vec<f64> },
    /// H.264 at one rate factor, opened at the first frame (its size comes with it).
    H264 { crf: f64, floor: f64, writer: Option<H264Writer> },
}

impl Store {
    /// The store for `opts`; `crf` is the H.264 rung being tried.
    pub fn new(opts: &EncodeOptions, crf: f64) -> std::io::Result<Self> {
        Ok(match opts.codec {
            Codec::Lossless | Codec::Temporal => Store::Zstd {
                comp: zstd::bulk::Compressor::new(opts.zstd_level)?,
                temporal: opts.codec == Codec::Temporal,
                previous: Vec::new(),
                delta: Vec::new(),
            },
            Codec::Jpeg => Store::Jpeg { scratch: JpegScratch::default(), floor: opts.psnr_floor, psnrs: Vec::new() },
            Codec::H264 => Store::H264 { crf, floor: opts.psnr_floor, writer: None },
        })
    }

    /// Stores one decoded frame (`w` x `h`, in the decode's pixel format) into `out`.
    pub fn push(&mut self, px: &[u8], w: usize, h: usize, out: &mut Frames) -> Result<(), Stop> {
        match self {
            Store::Zstd { comp, temporal, previous, delta } => {
                // Temporal: frames between key frames store their difference from the previous one.
                let predicted = *temporal && out.len() % TEMPORAL_GOP != 0;
                if predicted {
                    delta.clear();
                    delta.extend(px.iter().zip(previous.iter()).map(|(&a, &b)| a.wrapping_sub(b)));
                }
                let input = if predicted { delta.as_slice() } else { px };
                let bytes = comp.compress(input).map_err(|e| Stop::Codec(format!("zstd: {e}")))?;
                if *temporal {
                    previous.clear();
                    previous.extend_from_slice(px);
                }
                let crc = crc32fast::hash(&bytes);
                out.push((bytes, crc));
            }
            Store::Jpeg { scratch, floor, psnrs } => {
                let (bytes, p) = encode_frame(px, w, h, *floor, scratch)
                    .map_err(|why| Stop::Below(format!("frame {}: {why}", out.len())))?;
                psnrs.push(p);
                let crc = crc32fast::hash(&bytes);
                out.push((bytes, crc));
            }
            Store::H264 { crf, floor, writer } => {
                if writer.is_none() {
                    *writer = Some(H264Writer::new(w, h, *crf, *floor)?);
                }
                writer.as_mut().expect("opened above").push(px, out)?;
            }
        }
        Ok(())
    }

    /// Flushes what the codec holds back; returns the stored frames' PSNRs (lossy codecs).
    pub fn finish(self, out: &mut Frames) -> Result<Vec<f64>, Stop> {
        match self {
            Store::Zstd { .. } => Ok(Vec::new()),
            Store::Jpeg { psnrs, .. } => Ok(psnrs),
            Store::H264 { writer: None, .. } => Ok(Vec::new()),
            Store::H264 { writer: Some(mut w), .. } => {
                w.finish(out)?;
                Ok(w.psnrs)
            }
        }
    }
}
