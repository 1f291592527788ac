//! Per-video time of one train clip straight from a video (decode window + augment), single thread.
use froster_loader::rng::Rng;
use froster_loader::sampling::*;
use froster_loader::*;
use std::time::Instant;

fn main() {
    let dir = std::env::args().nth(1).expect("videos dir");
    let mut names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
    names.sort();
    let src = VideoSource::new(&dir, names.iter().map(|n| (n.clone(), 0)).collect());
    let mut s = Scratch::new();
    for (v, n) in names.iter().enumerate() {
        let st = src.stream(v).unwrap();
        let t0 = Instant::now();
        for i in 0..8 {
            let w = sample(&st, &SamplingConfig::default(), Start::Train(Rng::new(i).uniform()));
            src.read(v, &w.indices, &mut s).unwrap();
        }
        let per = t0.elapsed().as_secs_f64() * 1e3 / 8.0;
        let t1 = Instant::now();
        for _ in 0..8 {
            src.read(v, &[0], &mut s).unwrap();
        }
        println!(
            "{n}: {per:.1} ms per clip (decode only); first frame only {:.1} ms",
            t1.elapsed().as_secs_f64() * 1e3 / 8.0
        );
    }
}

#[allow(dead_code)]
fn unused() {}
