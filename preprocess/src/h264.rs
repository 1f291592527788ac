//! The H.264 codec's encoder: x264 (froster-loader's csrc/h264_enc.c, over libavcodec) in closed GOPs of
//! [`H264_GOP`] frames with the options in [`PARAMS`]. Every packet is decoded back as it comes out, and its RGB
//! compared with the source frame's RGB (the loader's own conversion): the first rung of [`crf_ladder`] that
//! keeps every frame at the floor is the one stored.
use froster_loader::format::{i420_to_rgb, H264_GOP};
use froster_loader::h264::{Decoder, Encoder};
use froster_loader::jpeg::psnr;
use std::collections::VecDeque;

/// x264's constant rate factors to try, in order, until every frame keeps `floor` dB. At 40 dB, camera videos
/// at short side 256 land at CRF 13-16.5 (measured on ../shared/data/videos), and PSNR moves about 1 dB per
/// CRF step, so the ladder starts at 56.5 - floor; the last rung, 0, is lossless and always keeps the floor.
pub fn crf_ladder(floor: f64) -> Vec<f64> {
    let start = (56.5 - floor).clamp(0.0, 51.0);
    let mut rungs: Vec<f64> =
        [0.0, 1.5, 3.0, 4.5, 6.5, 9.5, 13.5].iter().map(|d| start - d).filter(|&c| c > 0.0).collect();
    rungs.push(0.0);
    rungs
}

/// x264's speed preset: `veryfast` packs about 500 frames/s on 2 cores at 2.9x the sources; `faster` is 13%
/// smaller but packs 300 frames/s (`froster-bench pack` on ../shared/data/videos).
const PRESET: &str = "veryfast";
/// x264's options besides the GOP. Closed GOPs without B-frames (stored order is decode order, each GOP
/// decodes alone, every key frame carries its parameter sets); CAVLC, as CABAC doubles the reader's decode
/// time for 10% fewer bytes; tuned for PSNR (no psychovisual optimisation or adaptive quantisation, which
/// spend bits where PSNR does not look) and chroma 4 QP finer than luma, as RGB PSNR amplifies chroma error.
const PARAMS: &str =
    "scenecut=0:bframes=0:open-gop=0:repeat-headers=1:cabac=0:psy=0:aq-mode=0:chroma-qp-offset=-4:no-deblock=1";

/// Why a video's encoding stopped.
#[derive(Debug)]
pub enum Stop {
    /// A frame stays below the PSNR floor (which, at what PSNR).
    Below(String),
    /// The codec failed.
    Codec(String),
}

/// One video's encoding at one rung: frames go in, checked stored frames come out.
pub struct H264Writer {
    enc: Encoder,
    check: Decoder,
    w: usize,
    h: usize,
    floor: f64,
    /// Source frames sent to x264 whose packets have not come out yet (x264 looks ahead).
    waiting: VecDeque<Vec<u8>>,
    /// Frames stored so far.
    done: usize,
    /// Each stored frame's PSNR.
    pub psnrs: Vec<f64>,
    scratch: [Vec<u8>; 3],
}

impl H264Writer {
    /// A writer of `w` x `h` frames at x264 rate factor `crf`, keeping each frame at `floor` dB.
    pub fn new(w: usize, h: usize, crf: f64, floor: f64) -> Result<Self, Stop> {
        let enc =
            Encoder::new(w, h, H264_GOP, crf, PRESET, &format!("keyint={H264_GOP}:min-keyint={H264_GOP}:{PARAMS}"))
                .map_err(Stop::Codec)?;
        let check = Decoder::new().map_err(Stop::Codec)?;
        let (waiting, psnrs, scratch) = (VecDeque::new(), Vec::new(), Default::default());
        Ok(H264Writer { enc, check, w, h, floor, waiting, done: 0, psnrs, scratch })
    }

    /// Encodes one source frame; the packets that come out are checked and appended to `out` with their crc32.
    pub fn push(&mut self, i420: &[u8], out: &mut Vec<(Vec<u8>, u32)>) -> Result<(), Stop> {
        self.enc.send(Some(i420)).map_err(Stop::Codec)?;
        self.waiting.push_back(i420.to_vec());
        self.collect(out)
    }

    /// Flushes x264 and checks the last packets.
    pub fn finish(&mut self, out: &mut Vec<(Vec<u8>, u32)>) -> Result<(), Stop> {
        self.enc.send(None).map_err(Stop::Codec)?;
        self.collect(out)?;
        match self.waiting.len() {
            0 => Ok(()),
            n => Err(Stop::Codec(format!("x264 gave no packet for the last {n} frames"))),
        }
    }

    fn collect(&mut self, out: &mut Vec<(Vec<u8>, u32)>) -> Result<(), Stop> {
        while let Some((bytes, key)) = self.enc.receive().map_err(Stop::Codec)? {
            let j = self.done;
            if key != (j % H264_GOP == 0) {
                return Err(Stop::Codec(format!("frame {j}: x264 broke the {H264_GOP}-frame GOPs (key: {key})")));
            }
            let source = self.waiting.pop_front().ok_or_else(|| Stop::Codec("x264 gave an extra packet".into()))?;
            let p = self.fidelity(&source, &bytes, key).map_err(Stop::Codec)?;
            if p < self.floor {
                return Err(Stop::Below(format!("frame {j} at {p:.1} dB")));
            }
            self.psnrs.push(p);
            let crc = crc32fast::hash(&bytes);
            out.push((bytes, crc));
            self.done += 1;
        }
        Ok(())
    }

    /// Decodes a packet as the reader will and returns its RGB PSNR against the source frame's.
    fn fidelity(&mut self, source: &[u8], packet: &[u8], key: bool) -> Result<f64, String> {
        let (w, h) = (self.w, self.h);
        let [back, a, b] = &mut self.scratch;
        if key {
            self.check.reset();
        }
        self.check.next(packet, w, h, back)?;
        a.resize(w * h * 3, 0);
        b.resize(w * h * 3, 0);
        i420_to_rgb(source, w, h, a);
        i420_to_rgb(back, w, h, b);
        Ok(psnr(a, b))
    }
}
