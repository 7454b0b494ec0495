//! A plugin that does what its config says, in every phase, so integration tests can
//! observe order, short-circuits, failures and per-route configs through real HTTP.

use std::collections::BTreeMap;

use portcullis_sdk::prelude::*;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Probe {
    /// Appended to the `x-chain` request header (on-request) and response header
    /// (on-response), so the order plugins ran in is visible at both ends.
    tag: Option<String>,
    /// on-request answers with this status (body `probe <tag>`).
    reply: Option<u16>,
    /// on-response replaces the origin's response with this status.
    response_reply: Option<u16>,
    /// on-response changes the status.
    set_status: Option<u16>,
    /// select-upstream returns this name.
    select: Option<String>,
    /// on-upstream-request sets `x-attempt: <upstream>#<attempt>` (and appends to
    /// `x-attempts`, which must not carry over between attempts).
    mark_attempts: bool,
    /// Phase to fail in: on-request, select-upstream, on-upstream-request, on-response,
    /// on-log.
    fail_at: Option<String>,
    /// `panic` (a guest trap) or `framing` (sets content-length, which the host refuses).
    fail_by: Option<String>,
    /// configure refuses the config with this message.
    reject: Option<String>,
    /// Variables to set in on-request, and one to echo as `x-var-<name>` (request header).
    set_vars: BTreeMap<String, String>,
    echo_var: Option<String>,
    /// Request headers to set, then to append, in on-request.
    set_headers: BTreeMap<String, String>,
    append_headers: BTreeMap<String, String>,
    /// on-log counts requests in the shared counter `logged`; on-request reports the count so
    /// far as the request header `x-logged`.
    count_logs: bool,
    /// on-request burns this many milliseconds of CPU (a slow WAF rule), logging
    /// `spin start` and `spin end` around it.
    spin_ms: Option<u64>,
    /// on-request burns this many microseconds of CPU, quietly (a fast rule that does real
    /// work).
    spin_us: Option<u64>,
    /// on-request counts its calls in guest memory and sets `x-calls` to the count: the
    /// count survives from call to call only while the instance does.
    count_calls: bool,
    /// on-request logs this line (at warn level, so tests see it in the gateway's log).
    say: Option<String>,
    /// on-request never returns.
    forever: bool,
    /// on-request allocates and touches this many MiB.
    hog_mib: Option<usize>,
    /// on-request allocates and frees this many MiB in small blocks (allocator churn that
    /// stays within any cap), reporting the blocks made as `x-churn`.
    churn_mib: Option<usize>,
}

impl Probe {
    fn maybe_fail(&self, phase: &str, req: &Request) {
        if self.fail_at.as_deref() != Some(phase) {
            return;
        }
        match self.fail_by.as_deref() {
            Some("framing") => req.set_header("content-length", "0"),
            _ => panic!("probe told to fail in {phase}"),
        }
    }
}

impl Plugin for Probe {
    type Config = Self;
    const PHASES: &'static [Phase] =
        &[Phase::OnRequest, Phase::SelectUpstream, Phase::OnUpstreamRequest, Phase::OnResponse, Phase::OnLog];

    fn configure(config: Self) -> Result<Self, String> {
        match &config.reject {
            Some(message) => Err(message.clone()),
            None => Ok(config),
        }
    }

    fn on_request(&self, req: &Request) -> Decision {
        self.maybe_fail("on-request", req);
        if self.count_calls {
            static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let calls = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            req.set_header("x-calls", calls.to_string());
        }
        if let Some(say) = &self.say {
            host::log(Level::Warn, say);
        }
        if let Some(ms) = self.spin_ms {
            host::log(Level::Warn, "spin start");
            burn(std::time::Duration::from_millis(ms));
            host::log(Level::Warn, "spin end");
        }
        if let Some(us) = self.spin_us {
            burn(std::time::Duration::from_micros(us));
        }
        if self.forever {
            #[allow(clippy::empty_loop)]
            loop {}
        }
        if let Some(mib) = self.hog_mib {
            let hog = vec![1u8; mib << 20];
            req.set_header("x-hog", hog.iter().map(|&b| usize::from(b)).sum::<usize>().to_string());
        }
        if let Some(mib) = self.churn_mib {
            req.set_header("x-churn", churn(mib << 20).to_string());
        }
        if let Some(tag) = &self.tag {
            req.append_header("x-chain", tag);
        }
        for (key, value) in &self.set_vars {
            host::set_var(key, value);
        }
        for (name, value) in &self.set_headers {
            req.set_header(name, value);
        }
        for (name, value) in &self.append_headers {
            req.append_header(name, value);
        }
        if let Some(name) = &self.echo_var {
            req.set_header(&format!("x-var-{name}"), host::var(name).unwrap_or_else(|| "(unset)".into()));
        }
        if self.count_logs {
            req.set_header("x-logged", host::counter_add("logged", 0, u32::MAX).to_string());
        }
        match self.reply {
            Some(status) => Decision::reply(status, format!("probe {}\n", self.tag.as_deref().unwrap_or(""))),
            None => Decision::Continue,
        }
    }

    fn select_upstream(&self, req: &Request) -> Option<String> {
        self.maybe_fail("select-upstream", req);
        self.select.clone()
    }

    fn on_upstream_request(&self, req: &Request, upstream: &str, attempt: u32) -> Decision {
        self.maybe_fail("on-upstream-request", req);
        if self.mark_attempts {
            req.set_header("x-attempt", format!("{upstream}#{attempt}"));
            req.append_header("x-attempts", attempt.to_string());
        }
        Decision::Continue
    }

    fn on_response(&self, req: &Request, resp: &Response) -> Decision {
        self.maybe_fail("on-response", req);
        if let Some(tag) = &self.tag {
            resp.append_header("x-chain", tag);
        }
        if let Some(status) = self.set_status {
            resp.set_status(status);
        }
        match self.response_reply {
            Some(status) => Decision::reply(status, "replaced by probe\n"),
            None => Decision::Continue,
        }
    }

    fn on_log(&self, summary: &LogSummary) {
        if self.fail_at.as_deref() == Some("on-log") {
            panic!("probe told to fail in on-log");
        }
        if self.count_logs {
            host::counter_add("logged", 1, u32::MAX);
            host::log(
                Level::Info,
                &format!("logged {} {} -> {}", summary.method, summary.path_and_query, summary.status),
            );
        }
    }
}

export!(Probe);

/// Runs for `cpu` of this guest's own running time. The guest has no CPU clock, so it sums
/// the wall-clock steps between two looks at the clock and leaves out the long ones: those
/// are times it was not running (suspended at a yield, or descheduled).
fn burn(cpu: std::time::Duration) {
    const RUNNING_STEP: std::time::Duration = std::time::Duration::from_micros(200);
    let mut burnt = std::time::Duration::ZERO;
    let mut last = std::time::Instant::now();
    while burnt < cpu {
        std::hint::spin_loop();
        let now = std::time::Instant::now();
        let step = now - last;
        if step < RUNNING_STEP {
            burnt += step;
        }
        last = now;
    }
}

/// Allocates `total` bytes in blocks of 16 B to 4 KiB, keeping at most 64 alive at a time,
/// and returns how many blocks it made.
fn churn(total: usize) -> usize {
    let mut live: std::collections::VecDeque<Vec<u8>> = std::collections::VecDeque::new();
    let (mut made, mut size, mut allocated) = (0usize, 16usize, 0usize);
    while allocated < total {
        let block = vec![made as u8; size];
        allocated += block.len();
        live.push_back(block);
        if live.len() > 64 {
            live.pop_front();
        }
        made += 1;
        size = if size >= 4096 { 16 } else { size * 2 };
    }
    made
}
