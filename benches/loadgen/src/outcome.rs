//! What a run measured: answers by kind, latencies in an HdrHistogram (microseconds, three
//! significant digits), bytes and connections.

use std::time::Duration;

use hdrhistogram::Histogram;

use crate::{Answer, Request};

/// Latencies above this are recorded as this (a minute: nothing healthy comes close).
const HIGHEST_US: u64 = 60_000_000;

#[derive(Clone, Debug)]
pub struct Outcome {
    /// Answered with the expected status (and the required field).
    pub expected: u64,
    /// Answered, but with another status or without the required field.
    pub unexpected: u64,
    /// Requests that got no answer (the lane stopped there).
    pub errors: u64,
    /// The first unexpected answer or error, to say why a run failed.
    pub first_problem: Option<String>,
    pub latency: Histogram<u64>,
    /// Response body bytes received.
    pub body_bytes: u64,
    /// TCP connections the generator opened (reconnects after `Connection: close` included).
    pub connections: u64,
    /// From the scheduled start to the last answer.
    pub elapsed: Duration,
}

impl Default for Outcome {
    fn default() -> Outcome {
        Outcome {
            expected: 0,
            unexpected: 0,
            errors: 0,
            first_problem: None,
            // Bounds and precision are constants, so creation cannot fail; the fallback keeps
            // that out of every caller's way.
            latency: Histogram::new_with_bounds(1, HIGHEST_US, 3)
                .or_else(|_| Histogram::new(3))
                .expect("constant, valid histogram bounds"),
            body_bytes: 0,
            connections: 0,
            elapsed: Duration::ZERO,
        }
    }
}

/// Percentiles in microseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Latency {
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Outcome {
    pub(crate) fn failed(why: String) -> Outcome {
        Outcome { errors: 1, first_problem: Some(why), ..Outcome::default() }
    }

    pub(crate) fn record(&mut self, request: &Request, answer: &Answer, took: Duration) {
        self.body_bytes += answer.body_len;
        let carried = request.must_carry.as_deref().is_none_or(|name| answer.header(name).is_some());
        if answer.status == request.status && carried {
            self.expected += 1;
            let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).clamp(1, HIGHEST_US);
            self.latency.saturating_record(us);
        } else {
            self.unexpected += 1;
            if self.first_problem.is_none() {
                self.first_problem = Some(if carried {
                    format!("{} answered {}, expected {}", request.target, answer.status, request.status)
                } else {
                    format!(
                        "{} answered without `{}`",
                        request.target,
                        request.must_carry.as_deref().unwrap_or_default()
                    )
                });
            }
        }
    }

    pub(crate) fn error(&mut self, why: String) {
        self.errors += 1;
        self.first_problem.get_or_insert(why);
    }

    pub(crate) fn merge(&mut self, other: Outcome) {
        self.expected += other.expected;
        self.unexpected += other.unexpected;
        self.errors += other.errors;
        if self.first_problem.is_none() {
            self.first_problem = other.first_problem;
        }
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
        self.body_bytes += other.body_bytes;
        self.connections += other.connections;
    }

    /// Every request answered as expected.
    pub fn clean(&self) -> bool {
        self.unexpected == 0 && self.errors == 0 && self.expected > 0
    }

    pub fn rate(&self) -> f64 {
        self.expected as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn percentiles(&self) -> Latency {
        let at = |q: f64| self.latency.value_at_quantile(q);
        Latency { p50: at(0.50), p99: at(0.99), p999: at(0.999), max: self.latency.max() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_statuses_and_required_fields() {
        let mut outcome = Outcome::default();
        let want = Request::get("/a").must_carry("X-Tag");
        let ok = Answer { status: 200, headers: vec![("x-tag".into(), "1".into())], body_len: 10, ..Answer::default() };
        outcome.record(&want, &ok, Duration::from_micros(250));
        outcome.record(&want, &Answer { status: 200, ..Answer::default() }, Duration::from_micros(1));
        outcome.record(&Request::get("/b").status(403), &Answer { status: 200, ..Answer::default() }, Duration::ZERO);
        assert_eq!((outcome.expected, outcome.unexpected, outcome.body_bytes), (1, 2, 10));
        assert_eq!(outcome.first_problem.as_deref(), Some("/a answered without `x-tag`"));
        assert_eq!(outcome.percentiles().p50, 250);
        assert!(!outcome.clean());
    }

    #[test]
    fn merging_adds_everything_and_keeps_the_first_problem() {
        let mut a = Outcome::default();
        a.record(&Request::get("/a"), &Answer { status: 200, ..Answer::default() }, Duration::from_micros(100));
        let mut b = Outcome::failed("refused".into());
        b.record(&Request::get("/a"), &Answer { status: 200, ..Answer::default() }, Duration::from_micros(300));
        b.connections = 2;
        a.merge(b);
        assert_eq!((a.expected, a.errors, a.connections), (2, 1, 2));
        assert_eq!(a.first_problem.as_deref(), Some("refused"));
        assert_eq!(a.percentiles().max, 300);
    }
}
