//! One measured run: the load generator's figures plus, over the same span, the proxy's CPU
//! time, its memory afterwards, the origin connections it opened, and what else the machine
//! did.

use std::net::SocketAddr;

use portcullis_loadgen::{Latency, Pace, Plan, Protocol, Request};

use crate::harness::running::Running;
use crate::harness::system::Snapshot;

/// Requests in flight: 32 HTTP/1.1 connections, or 4 HTTP/2 connections of 8 streams.
/// Below every peer's pool (64), so reuse measures the pool, not an overflow.
const H1_CONNECTIONS: usize = 32;
const H2_CONNECTIONS: usize = 4;
const H2_STREAMS: usize = 8;

pub fn plan(addr: SocketAddr, protocol: Protocol, mix: Vec<Request>, pace: Pace) -> Plan {
    let (connections, streams) = match protocol {
        Protocol::Http1 => (H1_CONNECTIONS, 1),
        Protocol::H2c => (H2_CONNECTIONS, H2_STREAMS),
    };
    Plan { addr, protocol, connections, streams, mix, pace }
}

#[derive(Clone, Debug)]
pub struct Measured {
    /// Requests answered as the scenario expects.
    pub requests: u64,
    /// Answered otherwise, or not at all.
    pub failures: u64,
    pub first_problem: Option<String>,
    pub seconds: f64,
    pub latency: Latency,
    pub cpu_us: u64,
    /// Proportional set size of the proxy's processes after the run.
    pub pss_kib: u64,
    /// TCP connections opened on the host beyond the load generator's: the proxy's to the
    /// origins.
    pub origin_connections: u64,
    pub body_bytes: u64,
    /// CPU used by processes outside the bench, in CPUs over the run (0.25: a quarter).
    pub other_cpu: f64,
}

impl Measured {
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds.max(1e-9)
    }

    pub fn cpu_us_per_request(&self) -> f64 {
        self.cpu_us as f64 / (self.requests + self.failures).max(1) as f64
    }

    pub fn origin_connections_per_10k(&self) -> f64 {
        self.origin_connections as f64 * 10_000.0 / (self.requests + self.failures).max(1) as f64
    }
}

/// Runs `plans` (the first is the one measured; others run beside it, e.g. the noisy
/// neighbours) against `peer`.
pub fn run(peer: &mut Running, plans: &[Plan], ticks_per_second: u64, origins: &[u32]) -> Result<Measured, String> {
    let before = peer.cpu_ticks()?;
    let system_before = Snapshot::take(before, origins)?;
    let wall = std::time::Instant::now();
    let outcomes = portcullis_loadgen::run(plans)?;
    let wall = wall.elapsed().as_secs_f64();
    let after = peer.cpu_ticks()?;
    let system_after = Snapshot::take(after, origins)?;
    let pss_kib = peer.pss_kib()?;
    let generator_connections: u64 = outcomes.iter().map(|o| o.connections).sum();
    let mut outcomes = outcomes.into_iter();
    let outcome = outcomes.next().ok_or("no plan to run")?;
    // The requests beside the measured ones must succeed too, or the scenario did not happen.
    if let Some(beside) = outcomes.find(|o| !o.clean()) {
        return Err(format!(
            "{} of the requests beside the measured ones failed: {}",
            beside.unexpected + beside.errors,
            beside.first_problem.as_deref().unwrap_or("none answered")
        ));
    }
    let other = system_after.other_ticks(&system_before) as f64 / ticks_per_second as f64;
    Ok(Measured {
        requests: outcome.expected,
        failures: outcome.unexpected + outcome.errors,
        first_problem: outcome.first_problem.clone(),
        seconds: outcome.elapsed.as_secs_f64(),
        latency: outcome.percentiles(),
        cpu_us: (after - before) * 1_000_000 / ticks_per_second,
        pss_kib,
        origin_connections: system_after.tcp_opens(&system_before).saturating_sub(generator_connections),
        body_bytes: outcome.body_bytes,
        other_cpu: other / wall,
    })
}
