//! The scenarios, and one measured run of a scenario against a running peer: h2load's
//! figures plus the proxy's CPU time over the same span.

use std::path::Path;
use std::time::{Duration, Instant};

use super::h2load::{self, Load, Percentiles, Report};
use crate::harness::running::Running;
use crate::harness::system::Snapshot;

pub struct Scenario {
    pub name: &'static str,
    pub h1: bool,
    pub requests: u64,
    pub clients: u64,
    pub streams: u32,
    /// One request per TLS connection: run as `requests / clients` h2load invocations of
    /// `-n clients -c clients`, so each client makes exactly one request on its own fresh
    /// connection (a full handshake: h2load sets no session to resume).
    pub fresh_connections: bool,
}

impl Scenario {
    /// `-n` per h2load invocation and how many invocations.
    fn batches(&self) -> (u64, u64) {
        if self.fresh_connections {
            (self.clients, self.requests.div_ceil(self.clients))
        } else {
            (self.requests, 1)
        }
    }

    /// The h2load command line of one invocation, for the report.
    pub fn command(&self) -> String {
        let (per_batch, batches) = self.batches();
        let log = (!self.fresh_connections).then_some(Path::new("FILE"));
        let load =
            Load { port: 0, requests: per_batch, clients: self.clients, streams: self.streams, h1: self.h1, log };
        let mut text = format!("h2load {}", load.args().join(" ")).replace(":0", ":PORT");
        if self.fresh_connections {
            text = format!("{batches} × `{text}`");
        }
        text
    }
}

/// Requests are sized so a measured run takes 3-10 s on the 2-core machine class (the load
/// side, on one core, is usually the limit) and the proxy spends at least ~2 s of CPU, so
/// the 10 ms clock tick is under 1% of it; `--smoke` runs a few hundred.
pub fn all(smoke: bool) -> Vec<Scenario> {
    let scale = |full: u64, smoke_count: u64| if smoke { smoke_count } else { full };
    vec![
        Scenario {
            name: "h2-keepalive",
            h1: false,
            requests: scale(200_000, 2_000),
            clients: 16,
            streams: 10,
            fresh_connections: false,
        },
        Scenario {
            name: "h1-keepalive",
            h1: true,
            requests: scale(200_000, 1_000),
            clients: 16,
            streams: 1,
            fresh_connections: false,
        },
        Scenario {
            name: "tls-handshake",
            h1: false,
            requests: scale(10_000, 100),
            clients: 50,
            streams: 1,
            fresh_connections: true,
        },
        Scenario {
            name: "tls-handshake-h1",
            h1: true,
            requests: scale(10_000, 100),
            clients: 50,
            streams: 1,
            fresh_connections: true,
        },
    ]
}

#[derive(Clone, Debug)]
pub struct Measurement {
    /// Requests answered 2xx.
    pub requests: u64,
    /// Requests not answered 2xx (failed, errored, timed out or another status).
    pub failures: u64,
    /// TLS connections made (= handshakes).
    pub connections: u64,
    /// h2load's own time, summed over invocations (their start-up excluded).
    pub seconds: f64,
    pub cpu_us: u64,
    pub latency: Option<Percentiles>,
    pub bytes_per_request: f64,
    /// TCP connections opened on the host beyond h2load's: the proxy's to the origin.
    pub upstream_connections: u64,
    /// CPU used by processes outside the bench, in cores (0.25 = a quarter of a CPU) over
    /// the wall time of the run: above a few percent the run was disturbed.
    pub other_cpu: f64,
    /// The first invocation's TLS parameters (they do not vary between invocations).
    pub tls: Report,
}

impl Measurement {
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    pub fn cpu_us_per_request(&self) -> f64 {
        self.cpu_us as f64 / self.requests.max(1) as f64
    }
}

/// What every run needs besides its scenario and peer.
pub struct Bench<'a> {
    pub h2load: &'a Path,
    /// Where h2load's output and logs go.
    pub dir: &'a Path,
    pub ticks_per_second: u64,
    /// The origin's PID: its CPU is the bench's, not someone else's.
    pub origin: u32,
}

/// Runs `scenario` against `peer`, files named after `tag`.
pub fn measure(bench: &Bench<'_>, scenario: &Scenario, peer: &mut Running, tag: &str) -> Result<Measurement, String> {
    let (per_batch, batches) = scenario.batches();
    let (output, log) = h2load::files(bench.dir, tag);
    // Generous: a healthy run takes a fraction of this; a wedged one is stopped.
    let deadline = if scenario.fresh_connections { Duration::from_secs(30) } else { Duration::from_secs(180) };
    let before = peer.cpu_ticks()?;
    let system_before = Snapshot::take(before, &[bench.origin])?;
    let wall = Instant::now();
    let mut reports = Vec::with_capacity(batches as usize);
    for _ in 0..batches {
        let load = Load {
            port: peer.port,
            requests: per_batch,
            clients: scenario.clients,
            streams: scenario.streams,
            h1: scenario.h1,
            log: (!scenario.fresh_connections).then_some(log.as_path()),
        };
        reports.push(h2load::run(bench.h2load, &load, &output, deadline)?);
    }
    let wall = wall.elapsed().as_secs_f64();
    let after = peer.cpu_ticks()?;
    let system_after = Snapshot::take(after, &[bench.origin])?;
    let cpu_us = (after - before) * 1_000_000 / bench.ticks_per_second;
    let latency = if scenario.fresh_connections { None } else { Some(h2load::percentiles(&log)?) };
    let requests: u64 = reports.iter().map(|r| r.status_2xx).sum();
    let bytes: u64 = reports.iter().map(|r| r.traffic_bytes).sum();
    let connections = scenario.clients * batches;
    let other_seconds = system_after.other_ticks(&system_before) as f64 / bench.ticks_per_second as f64;
    Ok(Measurement {
        requests,
        failures: (per_batch * batches).saturating_sub(requests),
        connections,
        seconds: reports.iter().map(|r| r.seconds).sum(),
        cpu_us,
        latency,
        bytes_per_request: bytes as f64 / requests.max(1) as f64,
        upstream_connections: system_after.tcp_opens(&system_before).saturating_sub(connections),
        other_cpu: other_seconds / wall,
        tls: reports.first().cloned().unwrap_or_default(),
    })
}

/// Unmeasured traffic after a start: connections, the upstream pool, allocator and page
/// cache warm, so the first measured run is not the only one paying for them.
pub fn warm_up(bench: &Bench<'_>, peer: &Running, smoke: bool) -> Result<(), String> {
    let requests = if smoke { 200 } else { 20_000 };
    for h1 in [false, true] {
        let load = Load { port: peer.port, requests, clients: 16, streams: if h1 { 1 } else { 10 }, h1, log: None };
        let output = bench.dir.join(format!("warm-up-{}.out", peer.name));
        let report = h2load::run(bench.h2load, &load, &output, Duration::from_secs(60))?;
        if report.status_2xx != requests {
            return Err(format!(
                "{}: only {} of {requests} warm-up requests answered 2xx (see {})",
                peer.name,
                report.status_2xx,
                output.display()
            ));
        }
    }
    Ok(())
}
