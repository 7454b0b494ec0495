//! What the gateway offers every plugin: logging, per-request variables, counters shared by
//! all workers, and the clock.

#[cfg(target_arch = "wasm32")]
use crate::guest::host as imp;
#[cfg(not(target_arch = "wasm32"))]
use crate::native::host as imp;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// Writes to the gateway's log, tagged with the plugin and route.
pub fn log(level: Level, message: &str) {
    imp::log(level, message)
}

/// A per-request variable set by this or an earlier plugin of the chain.
pub fn var(key: &str) -> Option<String> {
    imp::var_get(key)
}

/// Sets a per-request variable for later plugins (and later phases) of this request.
pub fn set_var(key: &str, value: &str) {
    imp::var_set(key, value)
}

/// Adds `delta` to `key` in the current fixed window of `window_ms` (aligned to the Unix
/// epoch) and returns the window's new total. Shared by every worker and instance of this
/// plugin.
pub fn counter_add(key: &str, delta: i64, window_ms: u32) -> i64 {
    imp::counter_add(key, delta, window_ms)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    imp::now_ms()
}
