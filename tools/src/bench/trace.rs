//! `--trace`: more steps under libtorch's profiler, summed up as where the device's time went. What the per-phase
//! profile cannot show: how long the device sat idle within a step (launch gaps, host work), and which kernels
//! take its time, named as the device ran them (a recorded CUDA graph's kernels too).
use crate::error::{Error, Result};
use froster_shim::trace::{summarize, Trace};
use serde_json::json;
use std::time::Instant;
use tch::Device;

/// How many names the summary lists.
const TOP: usize = 15;

/// Runs `step(i)` for `i` in `0..n` (each must wait for its own results) under the profiler: per step, the wall
/// time, the time the device was busy (kernels, copies; overlaps once) and its idle share, and the kernels that
/// took longest. Off CUDA there is no device: the CPU ops stand in (they nest, so their times overlap). A trace
/// that fails is `{"error": why}`: the steps timed before it still count.
pub fn traced(device: Device, n: usize, step: impl FnMut(usize) -> Result<()>) -> serde_json::Value {
    summary(device, n, step).unwrap_or_else(|e| json!({"error": e.to_string()}))
}

fn summary(device: Device, n: usize, mut step: impl FnMut(usize) -> Result<()>) -> Result<serde_json::Value> {
    let shim = |e: froster_shim::Error| Error::Argument(format!("--trace: {e}"));
    let n = n.max(1);
    let trace = Trace::start(device.is_cuda()).map_err(shim)?;
    let t0 = Instant::now();
    for i in 0..n {
        step(i)?;
    }
    let wall_ns = t0.elapsed().as_nanos() as f64;
    let events = trace.stop().map_err(shim)?;
    let on_device = events.iter().any(|e| e.on_device);
    let s = summarize(events.iter().filter(|e| e.on_device == on_device), TOP);
    let per_step_ms = |ns: f64| ns / n as f64 / 1e6;
    let top: Vec<_> = s
        .top
        .iter()
        .map(|(name, ns, count)| json!([name, per_step_ms(*ns as f64), *count as f64 / n as f64]))
        .collect();
    Ok(json!({
        "steps": n, "of": if on_device {"device"} else {"cpu ops"},
        "wall_ms_per_step": per_step_ms(wall_ns), "busy_ms_per_step": per_step_ms(s.busy_ns as f64),
        "idle": (1.0 - s.busy_ns as f64 / wall_ns).max(0.0), "total_ms_per_step": per_step_ms(s.total_ns as f64),
        "top": top,
    }))
}
