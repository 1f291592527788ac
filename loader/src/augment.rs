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
pub fn train_spatial(w: usize, h: usize, min: usize, max: usize, crop: usize, rng: &mut Rng) -> Spatial {
    let size = (min as f64 + rng.uniform() * (max - min) as f64).round() as usize;
    let (sw, sh) = short_side_size(w, h, size);
    let y0 = if sh > crop { rng.below(sh - crop) } else { 0 };
    let x0 = if sw > crop { rng.below(sw - crop) } else { 0 };
    let flip = rng.uniform() < 0.5;
    Spatial { scaled_w: sw, scaled_h: sh, x0, y0, crop, flip }
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
    Spatial { scaled_w: sw, scaled_h: sh, x0, y0, crop, flip: false }
}

/// Precomputed bilinear taps for one axis: (index0, index1, weight of index1 in 1/256).
#[derive(Debug, Clone, Default)]
pub struct Taps(pub Vec<(u32, u32, u32)>);

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
                let w1 = ((src - i0 as f32) * 256.0).round().min(256.0) as u32;
                (i0 as u32, i1 as u32, w1)
            })
            .collect();
        Taps(taps)
    }
}

/// Stored pixels of one frame.
#[derive(Clone, Copy)]
pub enum Frame<'a> {
    Rgb(&'a [u8]),
    /// Planar YUV 4:2:0 (BT.601 limited range), converted to RGB only at the output pixels.
    I420(&'a [u8]),
}

/// Horizontally resampled rows and vertically blended output rows, reused across frames and clips (no
/// per-clip allocation in steady state).
#[derive(Default)]
pub struct ResizeScratch {
    rows: [Vec<u16>; 6],
    keys: [usize; 6],
    planes: [Vec<u8>; 3],
}

/// Horizontal pass of one source row with `channels` interleaved channels into `out` (taps.len() * channels),
/// values scaled by 256. `shift` 1 reads a half-width chroma row with the luma taps.
fn hpass(row: &[u8], channels: usize, taps: &[(u32, u32, u32)], shift: u32, out: &mut Vec<u16>) {
    out.resize(taps.len() * channels, 0);
    match (channels, shift) {
        (1, 0) => hpass1::<0>(row, taps, out),
        (1, _) => hpass1::<1>(row, taps, out),
        _ => {
            for (o, &(i0, i1, w)) in out.chunks_exact_mut(channels).zip(taps) {
                let (a, b) = (&row[(i0 >> shift) as usize * channels..], &row[(i1 >> shift) as usize * channels..]);
                for c in 0..channels {
                    o[c] = (a[c] as u32 * (256 - w) + b[c] as u32 * w) as u16;
                }
            }
        }
    }
}

/// One-channel horizontal pass; SHIFT 1 reads a half-width chroma row with the luma taps.
fn hpass1<const SHIFT: u32>(row: &[u8], taps: &[(u32, u32, u32)], out: &mut [u16]) {
    for (o, &(i0, i1, w)) in out.iter_mut().zip(taps) {
        let (a, b) = (row[(i0 >> SHIFT) as usize] as u32, row[(i1 >> SHIFT) as usize] as u32);
        *o = (a * (256 - w) + b * w) as u16;
    }
}

/// Vertical blend of two horizontally resampled rows into 8-bit values (auto-vectorised).
fn vpass(top: &[u16], bot: &[u16], w: u32, out: &mut Vec<u8>) {
    out.resize(top.len(), 0);
    for ((o, &t), &b) in out.iter_mut().zip(top).zip(bot) {
        *o = ((t as u32 * (256 - w) + b as u32 * w + 32768) >> 16) as u8;
    }
}

/// The slot holding the horizontal pass of source row `r` of a plane (slots `slot` and `slot + 1`).
fn cached(
    sc: &mut ResizeScratch,
    slot: usize,
    r: usize,
    row: &[u8],
    ch: usize,
    taps: &[(u32, u32, u32)],
    shift: u32,
) -> usize {
    for k in [slot, slot + 1] {
        if sc.keys[k] == r + 1 {
            return k;
        }
    }
    // Replace the older of the two (rows come in increasing order).
    let k = if sc.keys[slot] < sc.keys[slot + 1] { slot } else { slot + 1 };
    hpass(row, ch, taps, shift, &mut sc.rows[k]);
    sc.keys[k] = r + 1;
    k
}

/// Blends output row of plane `p` from the cached rows `a`, `b` into `sc.planes[p]`.
fn blend(sc: &mut ResizeScratch, p: usize, a: usize, b: usize, w: u32) {
    let mut out = std::mem::take(&mut sc.planes[p]);
    vpass(&sc.rows[a], &sc.rows[b], w, &mut out);
    sc.planes[p] = out;
}

/// Resizes and crops one frame (w x h) into `dst` (crop x crop x 3 RGB, HWC), flipping if asked: separable
/// integer bilinear, straight from the stored pixels; I420 is converted to RGB at the output pixels only.
pub fn apply(src: Frame, plan: &Plan, dst: &mut [u8], sc: &mut ResizeScratch) {
    let Plan { w, h, spatial: s, xt, yt } = plan;
    let (w, h) = (*w, *h);
    let c = s.crop;
    sc.keys = [0; 6];
    for (oy, &(y0, y1, wy)) in yt.0.iter().enumerate().take(c) {
        let out = &mut dst[oy * c * 3..(oy + 1) * c * 3];
        match src {
            Frame::Rgb(px) => {
                let row = |r: u32| &px[r as usize * w * 3..(r as usize + 1) * w * 3];
                let a = cached(sc, 0, y0 as usize, row(y0), 3, &xt.0, 0);
                let b = cached(sc, 0, y1 as usize, row(y1), 3, &xt.0, 0);
                blend(sc, 0, a, b, wy);
                if s.flip {
                    for (o, i) in out.chunks_exact_mut(3).rev().zip(sc.planes[0].chunks_exact(3)) {
                        o.copy_from_slice(i);
                    }
                } else {
                    out.copy_from_slice(&sc.planes[0][..c * 3]);
                }
            }
            Frame::I420(px) => {
                let (cw, chh) = (w.div_ceil(2), h.div_ceil(2));
                let (yp, rest) = px.split_at(w * h);
                let (up, vp) = rest.split_at(cw * chh);
                let (c0, c1) = ((y0 / 2) as usize, (y1 / 2) as usize);
                let ya = cached(sc, 0, y0 as usize, &yp[y0 as usize * w..][..w], 1, &xt.0, 0);
                let yb = cached(sc, 0, y1 as usize, &yp[y1 as usize * w..][..w], 1, &xt.0, 0);
                let ua = cached(sc, 2, c0, &up[c0 * cw..][..cw], 1, &xt.0, 1);
                let ub = cached(sc, 2, c1, &up[c1 * cw..][..cw], 1, &xt.0, 1);
                let va = cached(sc, 4, c0, &vp[c0 * cw..][..cw], 1, &xt.0, 1);
                let vb = cached(sc, 4, c1, &vp[c1 * cw..][..cw], 1, &xt.0, 1);
                blend(sc, 0, ya, yb, wy);
                blend(sc, 1, ua, ub, wy);
                blend(sc, 2, va, vb, wy);
                let yuv = sc.planes[0].iter().zip(&sc.planes[1]).zip(&sc.planes[2]);
                if s.flip {
                    for (o, ((&y, &u), &v)) in out.chunks_exact_mut(3).rev().zip(yuv) {
                        crate::format::yuv_to_rgb(y, u, v, o);
                    }
                } else {
                    for (o, ((&y, &u), &v)) in out.chunks_exact_mut(3).zip(yuv) {
                        crate::format::yuv_to_rgb(y, u, v, o);
                    }
                }
            }
        }
    }
}

/// A spatial transform of a w x h source and its resampling taps, computed once per clip.
pub struct Plan {
    w: usize,
    h: usize,
    spatial: Spatial,
    xt: Taps,
    yt: Taps,
}

impl Plan {
    /// The plan of `spatial` for a w x h source.
    pub fn new(w: usize, h: usize, spatial: Spatial) -> Self {
        let xt = Taps::new(w, spatial.scaled_w, spatial.x0, spatial.crop);
        let yt = Taps::new(h, spatial.scaled_h, spatial.y0, spatial.crop);
        Plan { w, h, spatial, xt, yt }
    }
}
