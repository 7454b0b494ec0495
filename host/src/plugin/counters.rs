//! Fixed-window counters shared by every worker thread and instance of one plugin (rate
//! limits). Windows are aligned to the Unix epoch, so a guest can compute when the current
//! one ends (`Retry-After`) from the clock alone.

use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;
use wasmtime::{bail, Result};

/// Beyond this many keys, expired windows are swept (at most once a second: a sweep walks
/// the whole map), so a flood of distinct keys (client IPs) is forgotten as windows end.
const SWEEP_ABOVE: usize = 100_000;
/// Keys still live after a sweep beyond this are refused (the call traps, and the plugin's
/// `on_error` decides), so memory stays bounded even within one long window.
const MAX_KEYS: usize = 1_000_000;
const MAX_KEY_BYTES: usize = 512;

#[derive(Default)]
pub(crate) struct Counters {
    /// (key, window length in ms) → (start of the current window, count in it)
    windows: DashMap<(String, u32), (u64, i64)>,
    last_sweep_ms: AtomicU64,
}

impl Counters {
    pub fn add(&self, key: String, delta: i64, window_ms: u32, now_ms: u64) -> Result<i64> {
        if window_ms == 0 {
            bail!("counter-add({key:?}): window-ms must be at least 1");
        }
        if key.len() > MAX_KEY_BYTES {
            bail!("counter-add: key of {} bytes exceeds {MAX_KEY_BYTES}", key.len());
        }
        let start = now_ms - now_ms % u64::from(window_ms);
        let len = self.windows.len();
        if len > SWEEP_ABOVE {
            let last = self.last_sweep_ms.load(Ordering::Relaxed);
            let due = now_ms.saturating_sub(last) >= 1000;
            if due && self.last_sweep_ms.compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
                self.windows.retain(|(_, window), (begun, _)| *begun + u64::from(*window) > now_ms);
            }
            if self.windows.len() >= MAX_KEYS && !self.windows.contains_key(&(key.clone(), window_ms)) {
                bail!("counter-add: {MAX_KEYS} live counters; refusing a new key");
            }
        }
        let mut slot = self.windows.entry((key, window_ms)).or_insert((start, 0));
        if slot.0 != start {
            *slot = (start, 0);
        }
        slot.1 = slot.1.saturating_add(delta);
        Ok(slot.1)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn counts_reset_when_the_window_turns() {
        let counters = Counters::default();
        assert_eq!(counters.add("ip".into(), 1, 1000, 10_000).unwrap(), 1);
        assert_eq!(counters.add("ip".into(), 1, 1000, 10_999).unwrap(), 2);
        assert_eq!(counters.add("other".into(), 5, 1000, 10_999).unwrap(), 5);
        assert_eq!(counters.add("ip".into(), 1, 1000, 11_000).unwrap(), 1);
        assert_eq!(
            counters.add("ip".into(), 1, 60_000, 11_000).unwrap(),
            1,
            "another window length is another counter"
        );
        assert!(counters.add("ip".into(), 1, 0, 11_000).is_err());
    }
}
