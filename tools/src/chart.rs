//! A per-class accuracy bar chart as PNG (one bar per class, height = top-1, a 50% guide line).
use crate::error::{io_err, Error, Result};
use std::path::Path;

/// Writes the chart of `values` (percentages) to `path`.
pub fn bar_chart(path: &Path, values: &[f64]) -> Result<()> {
    let n = values.len().max(1);
    let bar = (800 / n).clamp(2, 24);
    let (w, h) = ((bar * n + 20) as u32, 220u32);
    let mut px = vec![255u8; (w * h * 3) as usize];
    let mut put = |x: u32, y: u32, c: [u8; 3]| {
        if x < w && y < h {
            let i = ((y * w + x) * 3) as usize;
            px[i..i + 3].copy_from_slice(&c);
        }
    };
    for x in 0..w {
        put(x, 210 - 100, [200, 200, 200]);
        put(x, 210, [0, 0, 0]);
    }
    for (i, v) in values.iter().enumerate() {
        let top = (v.clamp(0.0, 100.0) * 2.0) as u32;
        for dx in 0..bar.saturating_sub(1) as u32 {
            for dy in 0..top {
                put(10 + (i * bar) as u32 + dx, 209 - dy, [40, 90, 200]);
            }
        }
    }
    let f = std::fs::File::create(path).map_err(io_err(path))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(f), w, h);
    enc.set_color(png::ColorType::Rgb);
    let png_err = |source| Error::Png { path: path.into(), source };
    enc.write_header().map_err(png_err)?.write_image_data(&px).map_err(png_err)
}
