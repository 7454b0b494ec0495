//! Scheduling classes for the host's helper threads, so they play their part on a busy
//! core: the epoch ticker must run on time (it is what makes a slow plugin call yield), and
//! the slow lane must run only when request workers do not need the CPU. The only libc
//! calls of the host are here; elsewhere than Linux both are no-ops.

/// Puts the calling thread (a slow-lane thread) in Linux's `SCHED_IDLE` class: a worker
/// thread that wakes up (a light request's I/O is ready) preempts it at once instead of
/// waiting out a time slice of the slow call, which measured as milliseconds of added
/// latency on a shared core. Slow calls still progress under full load, at a small share of
/// the CPU. If refused, the lane runs at normal priority.
pub fn run_when_idle() {
    #[cfg(target_os = "linux")]
    set_policy(libc::SCHED_IDLE, 0, "slow-lane thread at normal priority (SCHED_IDLE refused)");
}

/// Puts the calling thread (the epoch ticker) in the real-time `SCHED_FIFO` class at the
/// lowest priority, so each tick preempts whatever runs on its core. At normal priority a
/// tick waits out the time slice of a thread spinning in a plugin, often milliseconds, and
/// a cooperative call yields that much later. The ticker sleeps between ticks and does one
/// atomic add per tick: it cannot starve anything. Needs `CAP_SYS_NICE`; without it the
/// ticker runs at normal priority and says so.
pub fn run_promptly() {
    #[cfg(target_os = "linux")]
    set_policy(
        libc::SCHED_FIFO,
        1,
        "epoch ticker at normal priority (SCHED_FIFO refused): on a busy core, slow plugin calls yield late",
    );
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn set_policy(policy: libc::c_int, priority: libc::c_int, refused: &str) {
    let param = libc::sched_param { sched_priority: priority };
    // SAFETY: `sched_setscheduler` with pid 0 changes the scheduling policy of the calling
    // thread only; it reads `param`, a valid initialised value that outlives the call, and
    // touches no other memory.
    if unsafe { libc::sched_setscheduler(0, policy, &param) } != 0 {
        let err = std::io::Error::last_os_error();
        tracing::info!(error = %err, "{refused}");
    }
}
