//! Charts as PNG, with their words drawn in an 8x8 bitmap font: per-class accuracy (one labelled row per class,
//! worst first, so that 200 classes stay readable), and a run's loss and learning-rate curves.
use crate::error::{io_err, Error, Result};
use font8x8::legacy::BASIC_LEGACY;
use std::path::Path;

type Rgb = [u8; 3];
const BLACK: Rgb = [20, 20, 20];
const GREY: Rgb = [200, 200, 200];
const BLUE: Rgb = [40, 90, 200];
/// Line colours of curves, in order.
pub const COLOURS: [Rgb; 5] = [[40, 90, 200], [220, 90, 30], [40, 160, 70], [160, 50, 170], [120, 120, 120]];

/// An RGB image being drawn.
struct Canvas {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Canvas {
    fn new(w: usize, h: usize) -> Self {
        Canvas { w, h, px: vec![255; w * h * 3] }
    }

    fn put(&mut self, x: i64, y: i64, c: Rgb) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            let i = (y as usize * self.w + x as usize) * 3;
            self.px[i..i + 3].copy_from_slice(&c);
        }
    }

    fn rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: Rgb) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.put(xx, yy, c);
            }
        }
    }

    /// Text with its top-left corner at (x, y); ASCII only (others drawn as '?').
    fn text(&mut self, x: i64, y: i64, s: &str, c: Rgb) {
        for (i, ch) in s.chars().enumerate() {
            let code = if ch.is_ascii() { ch as usize } else { b'?' as usize };
            for (row, bits) in BASIC_LEGACY[code].iter().enumerate() {
                for col in 0..8 {
                    if bits >> col & 1 == 1 {
                        self.put(x + i as i64 * 8 + col, y + row as i64, c);
                    }
                }
            }
        }
    }

    fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), c: Rgb) {
        let n = ((x1 - x0).abs().max((y1 - y0).abs()) as usize).max(1);
        for i in 0..=n {
            let t = i as f64 / n as f64;
            self.put((x0 + t * (x1 - x0)).round() as i64, (y0 + t * (y1 - y0)).round() as i64, c);
        }
    }

    fn save(&self, path: &Path) -> Result<()> {
        let f = std::fs::File::create(path).map_err(io_err(path))?;
        let mut enc = png::Encoder::new(std::io::BufWriter::new(f), self.w as u32, self.h as u32);
        enc.set_color(png::ColorType::Rgb);
        let png_err = |source| Error::Png { path: path.into(), source };
        enc.write_header().map_err(png_err)?.write_image_data(&self.px).map_err(png_err)
    }
}

/// One class's row: (name, top-1 percent, videos).
pub type ClassRow = (String, f64, usize);

/// Per-class top-1 as horizontal bars, worst class first, each row labelled with its name and value.
pub fn per_class(path: &Path, title: &str, rows: &[ClassRow]) -> Result<()> {
    let mut rows = rows.to_vec();
    rows.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal).then(a.0.cmp(&b.0)));
    bars(path, title, "top-1 per class, worst first (bar: 0-100%)", &rows)
}

/// Horizontal percent bars in the given order, each row labelled with its name, value and count.
pub fn bars(path: &Path, title: &str, subtitle: &str, rows: &[ClassRow]) -> Result<()> {
    let (name_w, bar_w, row_h, top) = (34 * 8, 400i64, 12i64, 40i64);
    let mut c = Canvas::new((name_w + bar_w + 150) as usize, (top + rows.len() as i64 * row_h + 30) as usize);
    c.text(10, 10, title, BLACK);
    c.text(10, 24, subtitle, BLACK);
    let x0 = name_w + 10;
    for (i, (name, acc, n)) in rows.iter().enumerate() {
        let y = top + i as i64 * row_h;
        let short: String = name.chars().take(33).collect();
        c.text(10, y + 2, &short, BLACK);
        c.rect(x0, y + 1, bar_w, row_h - 2, [235, 235, 235]);
        c.rect(x0, y + 1, (acc.clamp(0.0, 100.0) / 100.0 * bar_w as f64) as i64, row_h - 2, BLUE);
        c.text(x0 + bar_w + 6, y + 2, &format!("{acc:5.1}% n={n}"), BLACK);
    }
    let y = top + rows.len() as i64 * row_h + 6;
    for p in [0, 50, 100] {
        let x = x0 + p * bar_w / 100;
        c.rect(x, top, 1, y - top, GREY);
        c.text(x - 8, y + 4, &format!("{p}"), BLACK);
    }
    c.save(path)
}

/// A curve: its name, its (x, y) points, its colour.
pub type Curve = (String, Vec<(f64, f64)>, Rgb);

/// Panels of curves over a shared x axis (steps), stacked, each titled and with its y range written.
pub fn curves(path: &Path, title: &str, panels: &[(&str, Vec<Curve>)]) -> Result<()> {
    let (w, ph, left) = (900i64, 260i64, 70i64);
    let mut c = Canvas::new(w as usize, (40 + panels.len() as i64 * (ph + 40)) as usize);
    c.text(10, 10, title, BLACK);
    let xs = panels.iter().flat_map(|(_, cs)| cs.iter().flat_map(|(_, p, _)| p.iter().map(|q| q.0)));
    let (xmin, xmax) = min_max(xs);
    for (k, (name, cs)) in panels.iter().enumerate() {
        let y0 = 40 + k as i64 * (ph + 40);
        let (ymin, ymax) = min_max(cs.iter().flat_map(|(_, p, _)| p.iter().map(|q| q.1)));
        c.rect(left, y0, 1, ph, BLACK);
        c.rect(left, y0 + ph, w - left - 20, 1, BLACK);
        c.text(left + 8, y0 - 14, name, BLACK);
        c.text(2, y0, &number(ymax), BLACK);
        c.text(2, y0 + ph - 8, &number(ymin), BLACK);
        c.text(left, y0 + ph + 4, &format!("step {xmin:.0}"), BLACK);
        c.text(w - 120, y0 + ph + 4, &format!("step {xmax:.0}"), BLACK);
        let to_px = |(x, y): (f64, f64)| {
            let fx = if xmax > xmin { (x - xmin) / (xmax - xmin) } else { 0.5 };
            let fy = if ymax > ymin { (y - ymin) / (ymax - ymin) } else { 0.5 };
            (left as f64 + 1.0 + fx * (w - left - 22) as f64, (y0 + ph - 1) as f64 - fy * (ph - 2) as f64)
        };
        for (i, (label, points, colour)) in cs.iter().enumerate() {
            for pair in points.windows(2) {
                c.line(to_px(pair[0]), to_px(pair[1]), *colour);
            }
            if points.len() == 1 {
                let (x, y) = to_px(points[0]);
                c.rect(x as i64 - 1, y as i64 - 1, 3, 3, *colour);
            }
            let lx = w - 300 + (i as i64 % 2) * 150;
            let ly = y0 + 4 + (i as i64 / 2) * 12;
            c.rect(lx, ly + 2, 10, 4, *colour);
            c.text(lx + 14, ly, label, BLACK);
        }
    }
    c.save(path)
}

/// A tick label: plain for ordinary magnitudes, scientific for learning rates and the like.
fn number(v: f64) -> String {
    if v == 0.0 || (0.01..10_000.0).contains(&v.abs()) {
        format!("{v:.3}")
    } else {
        format!("{v:.2e}")
    }
}

fn min_max(v: impl Iterator<Item = f64>) -> (f64, f64) {
    v.filter(|x| x.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)))
}
