//! Background sweep of expired idle connections.
//!
//! Without it, a connection that is never checked out again keeps its socket (and the
//! origin's) open forever, and keys for endpoints no longer used stay in the map.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::time::MissedTickBehavior;

use super::Pool;

/// Upper bound between sweeps, so a long `idle_timeout` still frees memory and keys.
const MAX_PERIOD: Duration = Duration::from_secs(5);
/// Lower bound, so a tiny `idle_timeout` does not turn the reaper into a busy loop.
const MIN_PERIOD: Duration = Duration::from_millis(100);

impl Pool {
    /// Spawns a tokio task that sweeps expired idle connections every
    /// `clamp(idle_timeout / 2, 100ms, 5s)`. The task holds only a `Weak<Pool>` and
    /// ends at its first tick after the last `Arc<Pool>` is dropped.
    ///
    /// # Panics
    /// When called outside a tokio runtime (like `tokio::spawn`).
    pub fn spawn_reaper(self: &Arc<Self>) {
        let period = (self.idle_timeout / 2).clamp(MIN_PERIOD, MAX_PERIOD);
        let pool = Arc::downgrade(self);
        tokio::spawn(run(pool, period));
    }
}

async fn run(pool: Weak<Pool>, period: Duration) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // The first tick completes immediately; nothing can have expired yet.
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Some(pool) = pool.upgrade() else {
            return;
        };
        pool.sweep();
    }
}
