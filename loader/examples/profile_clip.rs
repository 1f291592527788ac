//! Where a pack clip's time goes: read (zstd) vs augment, single thread, no pipeline.
use froster_loader::augment::*;
use froster_loader::format::PixelFormat;
use froster_loader::rng::Rng;
use froster_loader::sampling::*;
use froster_loader::*;
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let dir = std::env::args().nth(1).expect("pack dir");
    let r = Arc::new(PackReader::open(&dir).unwrap());
    let list = r.manifest().lists.keys().next().unwrap().clone();
    let src = PackSource::new(r.clone(), &list).unwrap();
    let mut s = Scratch::new();
    let cfg = SamplingConfig::default();
    let (mut t_read, mut t_aug) = (0.0, 0.0);
    let n: usize = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(200);
    let mut out = vec![0u8; 8 * 224 * 224 * 3];
    for i in 0..n {
        let v = i % src.len();
        let st = src.stream(v).unwrap();
        let mut rng = Rng::new(i as u64);
        let w = sample(&st, &cfg, Start::Train(rng.uniform()));
        let t0 = Instant::now();
        let l = src.read(v, &w.indices, &mut s).unwrap();
        let t1 = Instant::now();
        let sp = train_spatial(l.width, l.height, 224, 256, 224, &mut rng);
        let (xt, yt) = taps(l.width, l.height, &sp);
        for (k, f) in s.frames.iter().enumerate().take(8) {
            let fr = if l.pixel == PixelFormat::I420 { Frame::I420(f) } else { Frame::Rgb(f) };
            apply(fr, l.width, l.height, &sp, &xt, &yt, &mut out[k * 150528..(k + 1) * 150528], &mut s.resize);
        }
        t_read += (t1 - t0).as_secs_f64();
        t_aug += t1.elapsed().as_secs_f64();
    }
    println!("per clip: read {:.2} ms, augment {:.2} ms", t_read * 1e3 / n as f64, t_aug * 1e3 / n as f64);
}
