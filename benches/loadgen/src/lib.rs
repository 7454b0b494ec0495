//! The benchmarks' load generator: HTTP/1.1 keep-alive or cleartext HTTP/2 (prior knowledge)
//! against one address, with a rotating mix of requests, each with the status it must get.
//!
//! Why our own rather than wrk and h2load: the scenarios need a per-request mix (5% of
//! requests malicious, half of them carrying a routing header), one tool for both protocols
//! with the same latency definition, an open-loop mode that does not hide stalls
//! (coordinated omission), and a smoke run on any machine with nothing installed.
//!
//! - **Closed loop** ([`Pace::Closed`]): every lane (a connection, or a stream slot of an
//!   HTTP/2 connection) sends its next request as soon as the previous one is answered, for
//!   a fixed time. Measures capacity; latency is from send to the last body byte.
//! - **Open loop** ([`Pace::Open`]): request `i` is due at `start + i / rate` on lane
//!   `i % lanes`. When the lane was still busy at the due time, latency counts from the due
//!   time, so a stall is charged in full; otherwise from the send, so the timer's granularity
//!   is not charged to the server.
//!
//! Everything runs on one current-thread runtime: the generator stays on the core the
//! caller is pinned to.

mod h2c;
mod http1;
mod outcome;

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use tokio::time::Instant;

pub use outcome::{Latency, Outcome};

/// How long one request may take before its lane gives up: far beyond any healthy run.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Http1,
    /// HTTP/2 over cleartext TCP, by prior knowledge.
    H2c,
}

/// One request of the mix and what must come back.
#[derive(Clone, Debug)]
pub struct Request {
    /// Path and query, as sent.
    pub target: String,
    /// Extra fields (the `Host` is always `bench`).
    pub headers: Vec<(String, String)>,
    /// The status a correct proxy answers with; any other counts as unexpected.
    pub status: u16,
    /// A response field every answer must carry (checked case-insensitively), if any.
    pub must_carry: Option<String>,
}

impl Request {
    pub fn get(target: impl Into<String>) -> Request {
        Request { target: target.into(), headers: Vec::new(), status: 200, must_carry: None }
    }

    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn status(mut self, status: u16) -> Request {
        self.status = status;
        self
    }

    pub fn must_carry(mut self, name: &str) -> Request {
        self.must_carry = Some(name.to_ascii_lowercase());
        self
    }
}

#[derive(Clone, Copy, Debug)]
pub enum Pace {
    /// Each lane back to back for this long.
    Closed { duration: Duration },
    /// `rate` requests per second in all, spread over the lanes, for this long.
    Open { rate: u32, duration: Duration },
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub addr: SocketAddr,
    pub protocol: Protocol,
    pub connections: usize,
    /// Requests in flight per connection (HTTP/2 streams); 1 for HTTP/1.1 (no pipelining).
    pub streams: usize,
    /// Request `i` is `mix[i % mix.len()]`.
    pub mix: Vec<Request>,
    pub pace: Pace,
}

impl Plan {
    /// `GET target` over HTTP/1.1 keep-alive at `rate` per second, open loop: the light and
    /// slow requests of a noisy-neighbour test.
    pub fn http1_open(addr: SocketAddr, target: &str, rate: u32, connections: usize, duration: Duration) -> Plan {
        Plan {
            addr,
            protocol: Protocol::Http1,
            connections,
            streams: 1,
            mix: vec![Request::get(target)],
            pace: Pace::Open { rate, duration },
        }
    }

    fn lanes(&self) -> usize {
        let streams = if self.protocol == Protocol::Http1 { 1 } else { self.streams.max(1) };
        self.connections.max(1) * streams
    }
}

/// Runs the plans at the same time (e.g. light requests next to slow ones) and returns an
/// outcome per plan, in order. An error only when the runtime cannot start; failed requests
/// are counted in the outcomes.
pub fn run(plans: &[Plan]) -> Result<Vec<Outcome>, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the load generator's runtime: {e}"))?;
    let local = tokio::task::LocalSet::new();
    Ok(local.block_on(&runtime, async {
        let mut running = Vec::new();
        for plan in plans {
            running.push(tokio::task::spawn_local(run_plan(plan.clone())));
        }
        let mut outcomes = Vec::new();
        for task in running {
            outcomes.push(task.await.unwrap_or_else(|e| Outcome::failed(format!("load task panicked: {e}"))));
        }
        outcomes
    }))
}

/// Sends one request and returns its answer whole: for checking what a proxy does before
/// measuring how fast it does it.
pub fn fetch(addr: SocketAddr, protocol: Protocol, request: &Request) -> Result<Answer, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    // A `LocalSet`: an HTTP/2 connection is driven by a local task.
    tokio::task::LocalSet::new().block_on(&runtime, async {
        let answer = async {
            match protocol {
                Protocol::Http1 => http1::fetch(addr, request).await,
                Protocol::H2c => h2c::fetch(addr, request).await,
            }
        };
        tokio::time::timeout(REQUEST_TIMEOUT, answer)
            .await
            .map_err(|_| format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()))?
    })
}

/// A response as [`fetch`] returns it (the load itself keeps only counts).
#[derive(Clone, Debug, Default)]
pub struct Answer {
    pub status: u16,
    /// Lowercase names.
    pub headers: Vec<(String, String)>,
    /// Kept only by [`fetch`]; the load counts bytes.
    pub body: Vec<u8>,
    pub body_len: u64,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What one lane needs to know about the run.
#[derive(Clone)]
struct Schedule {
    start: Instant,
    end: Instant,
    /// Open loop: time between due times; closed loop: none.
    interval: Option<Duration>,
    lanes: u64,
    /// Closed loop: the next request index, shared by the lanes (one thread: a `Cell`).
    next: Rc<Cell<u64>>,
}

impl Schedule {
    /// The next request this lane sends and, open loop, when it is due; `None` when the run
    /// is over for this lane.
    fn next(&self, lane: u64, sent: u64) -> Option<(u64, Option<Instant>)> {
        match self.interval {
            None => {
                if Instant::now() >= self.end {
                    return None;
                }
                let i = self.next.get();
                self.next.set(i + 1);
                Some((i, None))
            }
            Some(interval) => {
                let i = lane + sent * self.lanes;
                let due = self.start + interval.checked_mul(u32::try_from(i).ok()?)?;
                (due < self.end).then_some((i, Some(due)))
            }
        }
    }
}

async fn run_plan(plan: Plan) -> Outcome {
    if plan.mix.is_empty() {
        return Outcome::failed("a plan without requests".to_owned());
    }
    let lanes = plan.lanes();
    // A little head start so the first due times are not already late while connecting.
    let start = Instant::now() + Duration::from_millis(20);
    let (duration, interval) = match plan.pace {
        Pace::Closed { duration } => (duration, None),
        Pace::Open { rate, duration } => (duration, Some(Duration::from_secs(1) / rate.max(1))),
    };
    let schedule =
        Schedule { start, end: start + duration, interval, lanes: lanes as u64, next: Rc::new(Cell::new(0)) };
    let mix = Rc::new(plan.mix);
    let mut tasks = Vec::new();
    match plan.protocol {
        Protocol::Http1 => {
            for lane in 0..lanes {
                let (schedule, mix) = (schedule.clone(), mix.clone());
                tasks.push(tokio::task::spawn_local(http1::lane(plan.addr, lane as u64, schedule, mix)));
            }
        }
        Protocol::H2c => {
            for connection in 0..plan.connections.max(1) {
                let first_lane = connection * plan.streams.max(1);
                let (schedule, mix) = (schedule.clone(), mix.clone());
                let streams = plan.streams.max(1);
                tasks.push(tokio::task::spawn_local(h2c::connection(
                    plan.addr,
                    first_lane as u64,
                    streams,
                    schedule,
                    mix,
                )));
            }
        }
    }
    let mut outcome = Outcome::default();
    for task in tasks {
        match task.await {
            Ok(part) => outcome.merge(part),
            Err(e) => outcome.merge(Outcome::failed(format!("lane panicked: {e}"))),
        }
    }
    outcome.elapsed = start.elapsed();
    outcome
}

/// One lane's way of sending a request of the mix and waiting for the whole answer.
pub(crate) trait Lane {
    /// Sends `mix[index]`; an error when the lane cannot go on.
    async fn exchange(&mut self, index: usize) -> Result<Answer, String>;
}

/// Sends request after request on one lane until the schedule says stop.
async fn drive(id: u64, schedule: &Schedule, mix: &[Request], lane: &mut impl Lane) -> Outcome {
    let mut outcome = Outcome::default();
    let mut sent = 0;
    let mut free_since = Instant::now();
    while let Some((i, due)) = schedule.next(id, sent) {
        sent += 1;
        if let Some(due) = due {
            tokio::time::sleep_until(due).await;
        }
        let index = (i % mix.len() as u64) as usize;
        let request = &mix[index];
        let began = Instant::now();
        // Open loop: a lane still busy at the due time charges the wait to the server.
        let from = match due {
            Some(due) if free_since > due => due,
            _ => began,
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, lane.exchange(index)).await {
            Ok(Ok(answer)) => {
                free_since = Instant::now();
                outcome.record(request, &answer, free_since - from);
            }
            Ok(Err(error)) => {
                outcome.error(error);
                break;
            }
            Err(_) => {
                outcome.error(format!("{} got no answer within {} s", request.target, REQUEST_TIMEOUT.as_secs()));
                break;
            }
        }
    }
    outcome
}
