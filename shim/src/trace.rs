//! A trace of a stretch of work through libtorch's own profiler (Kineto, with CUPTI for the device): which kernels
//! take the device's time, and how much of the stretch the device sits idle (launch gaps, host work, waits).
use crate::{call, ffi, ops::owned_string, Error, Result};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether a trace runs: libtorch's profiler would let a second start replace the first's state.
static RUNNING: AtomicBool = AtomicBool::new(false);

/// One recorded event: a CPU op of the tracing thread, or a kernel, copy or memset on the device.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// On the device (kernels, copies), or a CPU op.
    pub on_device: bool,
    /// The op's or kernel's name.
    pub name: String,
    /// Start, in the profiler's ns clock.
    pub start_ns: u64,
    /// End, in the same clock.
    pub end_ns: u64,
}

/// A running trace: [`Trace::stop`] ends it and returns what it saw (dropping it ends it too, discarding that).
pub struct Trace {
    running: bool,
}

impl Trace {
    /// Starts tracing the calling thread's CPU ops and, with `device`, the device's work. One trace at a time:
    /// a second start while one runs is an error.
    pub fn start(device: bool) -> Result<Trace> {
        if RUNNING.swap(true, Ordering::SeqCst) {
            return Err(Error::Local { op: "trace start", message: "a trace is running already".into() });
        }
        match call("trace start", |e| unsafe { ffi::fs_trace_start(device as i32, e) }) {
            Ok(()) => Ok(Trace { running: true }),
            Err(e) => {
                RUNNING.store(false, Ordering::SeqCst);
                Err(e)
            }
        }
    }

    /// Ends the trace: its events, in the profiler's order.
    pub fn stop(mut self) -> Result<Vec<Event>> {
        self.end().map(|text| text.lines().filter_map(parse).collect())
    }

    fn end(&mut self) -> Result<String> {
        self.running = false;
        let mut out = std::ptr::null_mut();
        let r = call("trace stop", |e| unsafe { ffi::fs_trace_stop(&mut out, e) });
        RUNNING.store(false, Ordering::SeqCst);
        r.map(|_| owned_string(out).unwrap_or_default())
    }
}

impl Drop for Trace {
    fn drop(&mut self) {
        if self.running {
            let _ = self.end();
        }
    }
}

fn parse(line: &str) -> Option<Event> {
    let mut f = line.splitn(4, '\t');
    let on_device = f.next()? == "device";
    let (start_ns, end_ns) = (f.next()?.parse().ok()?, f.next()?.parse().ok()?);
    Some(Event { on_device, name: f.next()?.to_string(), start_ns, end_ns })
}

/// Where a set of events spent its time.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The events' durations added up (nested CPU ops count once at each level).
    pub total_ns: u64,
    /// The time covered by at least one event (overlaps counted once).
    pub busy_ns: u64,
    /// The names that took the most time: (name, total ns, count), longest first, ties by name.
    pub top: Vec<(String, u64, usize)>,
}

/// The summary of `events`, with the `top` names that took longest.
pub fn summarize<'a>(events: impl IntoIterator<Item = &'a Event>, top: usize) -> Summary {
    let mut spans: Vec<(u64, u64)> = Vec::new();
    let mut by_name: HashMap<&str, (u64, usize)> = HashMap::new();
    for e in events {
        let d = e.end_ns.saturating_sub(e.start_ns);
        let s = by_name.entry(&e.name).or_default();
        (s.0, s.1) = (s.0 + d, s.1 + 1);
        spans.push((e.start_ns, e.end_ns.max(e.start_ns)));
    }
    let mut names: Vec<(String, u64, usize)> = by_name.into_iter().map(|(n, (t, c))| (n.to_string(), t, c)).collect();
    names.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let total_ns = names.iter().map(|n| n.1).sum();
    names.truncate(top);
    Summary { total_ns, busy_ns: union(spans), top: names }
}

/// The length of the union of `[start, end)` spans.
fn union(mut spans: Vec<(u64, u64)>) -> u64 {
    spans.sort_unstable();
    let (mut covered, mut reach) = (0, 0);
    for (s, e) in spans {
        let s = s.max(reach);
        if e > s {
            covered += e - s;
            reach = e;
        }
    }
    covered
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(name: &str, start_ns: u64, end_ns: u64) -> Event {
        Event { on_device: true, name: name.into(), start_ns, end_ns }
    }

    #[test]
    fn overlaps_count_once_in_busy_time_and_names_add_up() {
        // [0, 10) and [5, 20) overlap (20 covered); [30, 40) stands alone; a zero-length event adds nothing.
        let e = [ev("gemm", 0, 10), ev("gelu", 5, 20), ev("gemm", 30, 40), ev("copy", 50, 50)];
        let s = summarize(&e, 2);
        assert_eq!(s.busy_ns, 30);
        assert_eq!(s.total_ns, 35);
        assert_eq!(s.top, vec![("gemm".into(), 20, 2), ("gelu".into(), 15, 1)]);
    }

    #[test]
    fn lines_that_do_not_parse_are_left_out() {
        assert_eq!(parse("device\t5\t9\tvoid k<a\tb>()"), Some(ev("void k<a\tb>()", 5, 9)));
        assert_eq!(parse("cpu\tx\t9\tname"), None);
        assert_eq!(parse("cpu\t1"), None);
    }
}
