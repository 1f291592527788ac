//! Heartbeats through the group's store, so that a failed collective can name the rank that died or hung: each
//! rank bumps its counter every second from a thread of its own; a counter that stops moving is a silent rank.
//! Counters, not clocks, so that machines with skewed clocks agree.
use froster_shim::Group;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

const INTERVAL: Duration = Duration::from_secs(1);
/// How long a counter must stand still to call its rank silent.
const STALE: Duration = Duration::from_secs(4);

fn key(rank: usize) -> String {
    format!("froster/heartbeat/{rank}")
}

/// This rank's heartbeat thread; stops when dropped.
pub(crate) struct Heartbeat {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Heartbeat {
    pub(crate) fn start(group: Arc<Group>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut beat: u64 = 0;
            while !flag.load(Ordering::Relaxed) {
                beat += 1;
                if group.store_set(&key(group.rank()), &beat.to_le_bytes()).is_err() {
                    return; // the store is gone: the next collective reports it
                }
                for _ in 0..10 {
                    if flag.load(Ordering::Relaxed) {
                        return;
                    }
                    std::thread::sleep(INTERVAL / 10);
                }
            }
        });
        Heartbeat { stop, thread: Some(thread) }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The ranks whose heartbeat stood still for [`STALE`] (or never started); None when the store cannot be read,
/// which means its host is gone.
pub(crate) fn silent_ranks(group: &Group) -> Option<Vec<usize>> {
    let read =
        || -> Option<Vec<Option<Vec<u8>>>> { (0..group.world()).map(|r| group.store_get(&key(r)).ok()).collect() };
    let before = read()?;
    std::thread::sleep(STALE);
    let after = read()?;
    let silent = (0..group.world()).filter(|&r| r != group.rank() && (after[r].is_none() || before[r] == after[r]));
    Some(silent.collect())
}
