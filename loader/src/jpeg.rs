//! The compact codec's frames: baseline JPEGs decoded to RGB24 with zune-jpeg (SIMD), and the PSNR that packing
//! checks them by.
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;

/// Decodes a JPEG into `out` as tightly packed RGB24 of `w` x `h`; the reason when it is not one.
pub fn decode_rgb(bytes: &[u8], w: usize, h: usize, out: &mut Vec<u8>) -> std::result::Result<(), String> {
    let opts = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut d = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), opts);
    d.decode_headers().map_err(|e| format!("jpeg: {e:?}"))?;
    let (dw, dh) = d.dimensions().ok_or("jpeg without dimensions")?;
    if (dw, dh) != (w, h) {
        return Err(format!("jpeg is {dw}x{dh}, the manifest says {w}x{h}"));
    }
    out.resize(w * h * 3, 0);
    d.decode_into(out).map_err(|e| format!("jpeg: {e:?}"))
}

/// Peak signal-to-noise ratio of `b` against `a` (8-bit samples), in dB; infinite when equal.
pub fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let n = a.len().min(b.len()).max(1) as f64;
    let se: f64 = a.iter().zip(b).map(|(x, y)| (*x as f64 - *y as f64).powi(2)).sum();
    if se == 0.0 {
        return f64::INFINITY;
    }
    10.0 * (255.0f64 * 255.0 / (se / n)).log10()
}
