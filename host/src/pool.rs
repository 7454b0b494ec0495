//! The upstream connection pool, shared by every worker thread.
//!
//! Idle connections live in a `DashMap<PoolKey, Vec<Idle>>`. A shard lock is held only
//! to push or pop (plus a binary search to cut off expired entries); liveness probes
//! and socket closes happen after the lock is released, so one slow `close(2)` never
//! stalls another worker's checkout.
//!
//! Invariants:
//! - Each `Vec<Idle>` is ordered oldest first: entries are stamped under the shard lock
//!   at push time. The back is the warmest connection (LIFO reuse keeps few sockets
//!   hot and lets the cold ones reach their idle timeout), the front expires first.
//! - `idle` (the gauge) is incremented before a push and decremented after a pop, so it
//!   never underflows even though it is updated outside the lock.

mod liveness;
mod multiplexed;
mod reaper;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::config::PoolConfig;
use crate::proxy::stream::Stream;
use dashmap::DashMap;

/// Everything that makes two upstream connections interchangeable.
#[derive(Clone, Hash, Eq, PartialEq, Debug)]
pub struct PoolKey {
    /// The endpoint as configured, `host:port`.
    pub addr: String,
    pub tls: bool,
    pub sni: Option<String>,
    pub alpn: Option<String>,
}

impl PoolKey {
    /// Key for a plain-TCP (no TLS) connection to `addr`.
    pub fn plain(addr: impl Into<String>) -> PoolKey {
        PoolKey { addr: addr.into(), tls: false, sni: None, alpn: None }
    }
}

/// A point-in-time snapshot of the pool's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Fresh connections the callers opened (see [`Pool::record_new`]).
    pub new: u64,
    /// Checkouts served from the pool.
    pub reused: u64,
    /// HTTP/1.1 connections idle in the pool right now (shared HTTP/2 connections are in
    /// use by design and not counted).
    pub idle: usize,
    /// Connections found closed by the origin, or with unsolicited bytes, at checkout.
    /// A high rate means the origin's keep-alive timeout is shorter than ours.
    pub evicted_stale: u64,
}

/// An idle connection and when it was checked in.
#[derive(Debug)]
struct Idle {
    stream: Stream,
    since: Instant,
}

/// Shared pool of idle upstream connections. Share it between workers via `Arc`.
pub struct Pool {
    idle: DashMap<PoolKey, Vec<Idle>>,
    idle_timeout: Duration,
    max_idle_per_key: usize,
    new: AtomicU64,
    reused: AtomicU64,
    evicted_stale: AtomicU64,
    expired: AtomicU64,
    idle_gauge: AtomicUsize,
    /// Shared HTTP/2 connections (`protocol = "h2" | "h2c"` upstreams).
    pub(crate) multiplexed: multiplexed::Multiplexed,
}

// === impl Pool ===

impl Pool {
    pub fn new(cfg: &PoolConfig) -> Pool {
        Pool {
            idle: DashMap::new(),
            idle_timeout: cfg.idle_timeout,
            max_idle_per_key: cfg.max_idle_per_key,
            new: AtomicU64::new(0),
            reused: AtomicU64::new(0),
            evicted_stale: AtomicU64::new(0),
            expired: AtomicU64::new(0),
            idle_gauge: AtomicUsize::new(0),
            multiplexed: multiplexed::Multiplexed::default(),
        }
    }

    /// Pops a live idle connection for `key`, warmest first.
    ///
    /// Connections idle for `idle_timeout` or longer are dropped, and so are ones the
    /// origin closed or that have unsolicited bytes pending (see `liveness`); the next
    /// warmest is tried instead. Never blocks on I/O. Counts `reused` on success.
    pub(crate) fn checkout(&self, key: &PoolKey) -> Option<Stream> {
        loop {
            let (popped, expired) = {
                let mut list = self.idle.get_mut(key)?;
                let expired = split_expired(&mut list, self.cutoff());
                (list.pop(), expired)
            };
            self.discard_expired(expired);
            let idle = popped?;
            self.idle_gauge.fetch_sub(1, Relaxed);
            if liveness::is_reusable(idle.stream.tcp()) {
                self.reused.fetch_add(1, Relaxed);
                return Some(idle.stream);
            }
            self.evicted_stale.fetch_add(1, Relaxed);
        }
    }

    /// Returns a connection for reuse. The caller must only check in a connection whose
    /// last response was read completely. It is dropped (closed) instead when pooling
    /// is disabled or `key` already holds `max_idle_per_key` live idle connections.
    /// Takes the key by reference: it is cloned only when a key gets its first idle list.
    pub(crate) fn checkin(&self, key: &PoolKey, stream: impl Into<Stream>) {
        if self.max_idle_per_key == 0 {
            return;
        }
        let stream = stream.into();
        let cutoff = self.cutoff();
        let (rejected, expired) = {
            let mut list = match self.idle.get_mut(key) {
                Some(list) => list,
                None => self.idle.entry(key.clone()).or_default(),
            };
            let expired = split_expired(&mut list, cutoff);
            if list.len() >= self.max_idle_per_key {
                (Some(stream), expired)
            } else {
                self.idle_gauge.fetch_add(1, Relaxed);
                let since = Instant::now();
                list.push(Idle { stream, since });
                (None, expired)
            }
        };
        // Closing sockets outside the shard lock.
        drop(rejected);
        self.discard_expired(expired);
    }

    /// Counts a fresh connection the caller opened because checkout found none.
    pub fn record_new(&self) {
        self.new.fetch_add(1, Relaxed);
    }

    pub fn stats(&self) -> PoolStats {
        PoolStats {
            new: self.new.load(Relaxed) + self.multiplexed.opened(),
            // An HTTP/2 request on a shared connection is a reuse as much as a checkout is.
            reused: self.reused.load(Relaxed) + self.multiplexed.reused(),
            idle: self.idle_gauge.load(Relaxed),
            evicted_stale: self.evicted_stale.load(Relaxed),
        }
    }

    /// Idle connections closed because they reached `idle_timeout` (by checkout,
    /// checkin or the reaper). Not part of [`PoolStats`] to keep that struct stable.
    pub fn expired_total(&self) -> u64 {
        self.expired.load(Relaxed)
    }

    /// Number of keys currently in the map (including ones whose list just emptied
    /// and await the reaper). For tests and diagnostics.
    pub fn key_count(&self) -> usize {
        self.idle.len()
    }

    /// Closes every expired idle connection and removes keys left without any, so the
    /// map does not grow with every endpoint ever seen. Called by the reaper; cheap
    /// enough to call directly (e.g. in tests or on config reload).
    pub fn sweep(&self) {
        let cutoff = self.cutoff();
        let mut expired = Vec::new();
        self.idle.retain(|_, list| {
            expired.append(&mut split_expired(list, cutoff));
            !list.is_empty()
        });
        self.discard_expired(expired);
    }

    /// Entries stamped at or before this instant have been idle for `idle_timeout`.
    /// `None` when the process is younger than the timeout: nothing can be expired.
    fn cutoff(&self) -> Option<Instant> {
        Instant::now().checked_sub(self.idle_timeout)
    }

    fn discard_expired(&self, expired: Vec<Idle>) {
        if !expired.is_empty() {
            self.idle_gauge.fetch_sub(expired.len(), Relaxed);
            self.expired.fetch_add(expired.len() as u64, Relaxed);
        }
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("idle_timeout", &self.idle_timeout)
            .field("max_idle_per_key", &self.max_idle_per_key)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Removes and returns the expired prefix of an oldest-first list. Does not allocate
/// when nothing has expired, which is the common case on the request path.
fn split_expired(list: &mut Vec<Idle>, cutoff: Option<Instant>) -> Vec<Idle> {
    let Some(cutoff) = cutoff else {
        return Vec::new();
    };
    let n = list.partition_point(|idle| idle.since <= cutoff);
    if n == 0 {
        return Vec::new();
    }
    list.drain(..n).collect()
}
