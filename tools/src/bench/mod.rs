//! The benchmarks behind `froster-bench`: they print numbers and assert nothing (speed is never a test).
pub mod eval_step;
pub mod flops;
pub mod kernels;
pub mod loader;
pub mod model;
pub mod pack;
pub mod step;
pub mod trace;

/// Peak resident memory of this process, MB.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// All cores, for thread counts left unsaid.
pub fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
}
