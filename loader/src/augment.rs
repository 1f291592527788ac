//! Spatial augmentation as the reference (PySlowFast `spatial_sampling`): short-side scale with bilinear
//! interpolation (align_corners=False), crop, optional horizontal flip. Resize and crop are fused: only the
//! output pixels are computed, straight from the uint8 frame.
use crate::rng::Rng;

/// One frame's spatial transform; the same for all frames of a clip.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spatial {
    /// Size after the short-side scale.
    pub scaled_w: usize,
    pub scaled_h: usize,
    /// Crop origin in the scaled frame.
    pub x0: usize,
    pub y0: usize,
    pub crop: usize,
    pub flip: bool,
}

/// PySlowFast's `random_short_side_scale_jitter` output size.
pub fn short_side_size(w: usize, h: usize, size: usize) -> (usize, usize) {
    if (w <= h && w == size) || (h <= w && h == size) {
        (w, h)
    } else if w < h {
        (size, ((h as f64 / w as f64) * size as f64).floor() as usize)
    } else {
        (((w as f64 / h as f64) * size as f64).floor() as usize, size)
    }
}

/// Train: short side uniform in [min, max], a random crop (numpy randint: exclusive upper bound), flip p=0.5.
pub fn train_spatial(
    w: usize,
    h: usize,
    min: usize,
    max: usize,
    crop: usize,
    rng: &mut Rng,
) -> Spatial {
    let size = (min as f64 + rng.uniform() * (max - min) as f64).round() as usize;
    let (sw, sh) = short_side_size(w, h, size);
    let y0 = if sh > crop { rng.below(sh - crop) } else { 0 };
    let x0 = if sw > crop { rng.below(sw - crop) } else { 0 };
    let flip = rng.uniform() < 0.5;
    Spatial {
        scaled_w: sw,
        scaled_h: sh,
        x0,
        y0,
        crop,
        flip,
    }
}

/// Test: short side to `size`, then PySlowFast's `uniform_crop` at spatial index 0/1/2
/// (left/centre/right, or top/centre/bottom for portrait frames). 1 crop means the centre.
pub fn test_spatial(w: usize, h: usize, size: usize, crop: usize, spatial_idx: usize) -> Spatial {
    let (sw, sh) = short_side_size(w, h, size);
    let mut y0 = (sh.saturating_sub(crop) as f64 / 2.0).ceil() as usize;
    let mut x0 = (sw.saturating_sub(crop) as f64 / 2.0).ceil() as usize;
    if sh > sw {
        match spatial_idx {
            0 => y0 = 0,
            2 => y0 = sh.saturating_sub(crop),
            _ => {}
        }
    } else {
        match spatial_idx {
            0 => x0 = 0,
            2 => x0 = sw.saturating_sub(crop),
            _ => {}
        }
    }
    Spatial {
        scaled_w: sw,
        scaled_h: sh,
        x0,
        y0,
        crop,
        flip: false,
    }
}

/// Precomputed bilinear taps for one axis: (index0, index1, weight of index1).
#[derive(Debug, Clone, Default)]
pub struct Taps(pub Vec<(u32, u32, f32)>);

impl Taps {
    /// Taps for output positions `from..from+n` of a resize `input -> output` (PyTorch's align_corners=False).
    pub fn new(input: usize, output: usize, from: usize, n: usize) -> Self {
        let scale = input as f32 / output as f32;
        let taps = (from..from + n)
            .map(|d| {
                let d = d.min(output.saturating_sub(1));
                let src = (scale * (d as f32 + 0.5) - 0.5).max(0.0);
                let i0 = (src as usize).min(input - 1);
                let i1 = if i0 < input - 1 { i0 + 1 } else { i0 };
                (i0 as u32, i1 as u32, src - i0 as f32)
            })
            .collect();
        Taps(taps)
    }
}

/// Resizes and crops one RGB24 frame (w x h) into `dst` (crop x crop x 3, HWC), flipping if asked.
pub fn apply(src: &[u8], w: usize, h: usize, s: &Spatial, xt: &Taps, yt: &Taps, dst: &mut [u8]) {
    let c = s.crop;
    let stride = w * 3;
    for (oy, &(y0, y1, ly)) in yt.0.iter().enumerate().take(c) {
        let r0 = &src[y0 as usize * stride..y0 as usize * stride + stride];
        let r1 = &src[y1 as usize * stride..y1 as usize * stride + stride];
        let out = &mut dst[oy * c * 3..(oy + 1) * c * 3];
        for (ox, &(x0, x1, lx)) in xt.0.iter().enumerate().take(c) {
            let tx = if s.flip { c - 1 - ox } else { ox };
            let (a, b) = (x0 as usize * 3, x1 as usize * 3);
            for ch in 0..3 {
                let top = r0[a + ch] as f32 * (1.0 - lx) + r0[b + ch] as f32 * lx;
                let bot = r1[a + ch] as f32 * (1.0 - lx) + r1[b + ch] as f32 * lx;
                out[tx * 3 + ch] = (top * (1.0 - ly) + bot * ly + 0.5) as u8;
            }
        }
    }
    let _ = h;
}

/// The taps of a spatial transform for a w x h source.
pub fn taps(w: usize, h: usize, s: &Spatial) -> (Taps, Taps) {
    (
        Taps::new(w, s.scaled_w, s.x0, s.crop),
        Taps::new(h, s.scaled_h, s.y0, s.crop),
    )
}
