//! The JPEG codec's encoder: a frame's RGB (the loader's own I420 conversion, so the floor is measured
//! against exactly what a lossless pack would feed it) as a baseline JPEG at the first rung of [`LADDER`] whose
//! decoded PSNR reaches the floor. 4:2:0 first (small); 4:4:4 when the decoder's smooth chroma upsampling cannot
//! reach the floor (small frames, sharp colour edges), since the source chroma was upsampled by repetition.
use froster_loader::format::i420_to_rgb;
use froster_loader::jpeg::{decode_rgb, psnr};

use jpeg_encoder::SamplingFactor;

/// (chroma sampling, quality), smallest first: most frames stop at the first rung.
pub const LADDER: [(SamplingFactor, u8); 7] = [
    (SamplingFactor::F_2_2, 90),
    (SamplingFactor::F_2_2, 93),
    (SamplingFactor::F_2_2, 96),
    (SamplingFactor::F_1_1, 90),
    (SamplingFactor::F_1_1, 94),
    (SamplingFactor::F_1_1, 97),
    (SamplingFactor::F_1_1, 99),
];

/// Reusable buffers of one encoding thread.
#[derive(Default)]
pub struct JpegScratch {
    rgb: Vec<u8>,
    back: Vec<u8>,
}

/// One I420 frame of `w` x `h` as a JPEG reaching `floor` dB: (bytes, PSNR); the reason when none does.
pub fn encode_frame(
    i420: &[u8],
    w: usize,
    h: usize,
    floor: f64,
    s: &mut JpegScratch,
) -> Result<(Vec<u8>, f64), String> {
    s.rgb.resize(w * h * 3, 0);
    i420_to_rgb(i420, w, h, &mut s.rgb);
    let mut best = f64::NEG_INFINITY;
    for (sampling, q) in LADDER {
        let mut bytes = Vec::with_capacity(w * h / 2);
        let mut e = jpeg_encoder::Encoder::new(&mut bytes, q);
        e.set_sampling_factor(sampling);
        e.encode(&s.rgb, w as u16, h as u16, jpeg_encoder::ColorType::Rgb).map_err(|e| format!("jpeg: {e}"))?;
        decode_rgb(&bytes, w, h, &mut s.back)?;
        let p = psnr(&s.rgb, &s.back);
        if p >= floor {
            return Ok((bytes, p));
        }
        best = best.max(p);
    }
    Err(format!("a frame stays at {best:.1} dB even at JPEG quality 99 (4:4:4), below the {floor} dB floor"))
}
