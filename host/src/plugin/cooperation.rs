//! How a cooperative call spends its epoch ticks: when it gives its thread back (and so
//! moves to the slow lane), and when its budget is spent.
//!
//! A slice is judged by the CPU time of the thread running the call, not by the wall
//! clock. By the wall clock a call of a few microseconds that was merely descheduled (an
//! interrupt, another thread on a busy core, or the slow lane's `SCHED_IDLE` threads, which
//! every request worker preempts) looks slow: it yielded, was flagged slow, and sent the next
//! calls of its config to the starving lane, which measured as 20–50 ms tails under load
//! (see BENCHMARKS.md, the waf scenario).

use std::time::Duration;

use wasmtime::{Result, StoreContextMut, UpdateDeadline};

use super::host_api::CallState;

/// A cooperative call's progress through its budget.
pub(crate) struct Cooperation {
    /// Epoch ticks the call may still run into; one more traps it.
    ticks_left: u64,
    /// The running thread's CPU clock at the first tick this slice ran into. Read lazily:
    /// most calls end before any tick, and reading the clock is a system call.
    slice_mark: Option<Duration>,
    /// It gave its thread back at least once: a slow call (see `LoadedPlugin::slow`).
    pub yielded: bool,
}

impl Cooperation {
    pub(crate) fn new(ticks: u64) -> Self {
        Cooperation { ticks_left: ticks, slice_mark: None, yielded: false }
    }
}

/// CPU time a slice must spend past its first tick before the call yields: less, and it is
/// a fast call that was unlucky to straddle a tick; it goes on instead of yielding.
const MIN_SLICE: Duration = Duration::from_micros(500);

/// Runs when a call reaches its epoch deadline. A blocking call (and `configure`) gets its
/// whole budget as one deadline, so reaching it means the budget is spent. A cooperative
/// call gets one tick at a time: at each it yields to the scheduler once it has spent
/// `MIN_SLICE` of CPU since the slice's first tick, and goes on with one tick less; the
/// slice restarts when it resumes (maybe on another thread), so time spent waiting for a
/// thread is not counted.
pub(crate) fn at_epoch_deadline(mut store: StoreContextMut<'_, CallState>) -> Result<UpdateDeadline> {
    let Some(cooperation) = store.data_mut().cooperation.as_mut() else {
        return Ok(UpdateDeadline::Interrupt);
    };
    if cooperation.ticks_left == 0 {
        return Ok(UpdateDeadline::Interrupt);
    }
    cooperation.ticks_left -= 1;
    let now = thread_cpu_time();
    match cooperation.slice_mark {
        Some(mark) if now.saturating_sub(mark) >= MIN_SLICE => {
            cooperation.slice_mark = None;
            cooperation.yielded = true;
            // tokio's yield lets the I/O driver run before this task is polled again.
            Ok(UpdateDeadline::YieldCustom(1, Box::pin(tokio::task::yield_now())))
        }
        Some(_) => Ok(UpdateDeadline::Continue(1)),
        None => {
            cooperation.slice_mark = Some(now);
            Ok(UpdateDeadline::Continue(1))
        }
    }
}

/// CPU time the calling thread has run, user and system.
fn thread_cpu_time() -> Duration {
    let time = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    // Both fields are non-negative for a CPU clock. Were a conversion to fail, the zero read
    // would keep the call from yielding; its tick budget would still bound it.
    Duration::new(u64::try_from(time.tv_sec).unwrap_or(0), u32::try_from(time.tv_nsec).unwrap_or(0))
}
