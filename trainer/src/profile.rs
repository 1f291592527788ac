//! Per-phase wall times of training steps, for `froster-bench train-step --profile`. Each mark waits for the
//! device, which a plain step never does, so a profiled step runs slower than a plain one: the phases' shares
//! are what it is for. Marks are no-ops until [`start`] on the same thread.
use std::cell::RefCell;
use std::time::Instant;
use tch::Device;

struct Clock {
    device: Device,
    last: Instant,
    phases: Vec<(&'static str, f64)>,
}

thread_local! {
    static CLOCK: RefCell<Option<Clock>> = const { RefCell::new(None) };
}

fn sync(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

/// Starts timing phases on this thread (what was recorded before is dropped).
pub fn start(device: Device) {
    sync(device);
    CLOCK.with(|c| *c.borrow_mut() = Some(Clock { device, last: Instant::now(), phases: Vec::new() }));
}

/// Ends the current phase, named `phase`: the time since the previous mark, device work included, is added to it.
pub fn mark(phase: &'static str) {
    CLOCK.with(|c| {
        if let Some(clock) = c.borrow_mut().as_mut() {
            sync(clock.device);
            let secs = clock.last.elapsed().as_secs_f64();
            match clock.phases.iter_mut().find(|(p, _)| *p == phase) {
                Some((_, s)) => *s += secs,
                None => clock.phases.push((phase, secs)),
            }
            clock.last = Instant::now();
        }
    });
}

/// Whether phases are being timed on this thread (its marks wait for the device).
pub fn active() -> bool {
    CLOCK.with(|c| c.borrow().is_some())
}

/// Stops timing: seconds per phase, in the order the phases first ended.
pub fn stop() -> Vec<(&'static str, f64)> {
    CLOCK.with(|c| c.borrow_mut().take().map(|clock| clock.phases).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_add_up_per_phase_only_between_start_and_stop() {
        mark("before start");
        assert!(stop().is_empty(), "a mark before start records nothing");
        start(Device::Cpu);
        for _ in 0..3 {
            std::thread::sleep(std::time::Duration::from_millis(2));
            mark("a");
            mark("b");
        }
        let phases = stop();
        assert_eq!(phases.iter().map(|p| p.0).collect::<Vec<_>>(), ["a", "b"]);
        assert!(phases[0].1 >= 0.006 && phases[0].1 > phases[1].1, "{phases:?}");
        mark("after stop");
        assert!(stop().is_empty());
    }
}
