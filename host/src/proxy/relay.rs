//! Streams one message body from a source to a sink (`body.rs`: an HTTP/1.1 connection or
//! an HTTP/2 stream on either side), re-framing on the way.
//!
//! Memory stays bounded whatever the body size: at most one read chunk is in flight, and
//! we only read again after the previous piece was written (backpressure end to end).

use std::io;
use std::time::{Duration, Instant};

use super::body::{Sink, Source};
use crate::http1::{hop_by_hop, BodyEvent, HeadError, Headers};

pub(crate) struct RelayLimits {
    /// Longest wait for the source's next bytes.
    pub read_idle: Duration,
    /// Longest wait for the sink to accept a piece.
    pub write_idle: Duration,
    /// Decoded body bytes allowed (None: unlimited).
    pub max_bytes: Option<u64>,
    /// Minimum average rate in bytes/s, enforced after `MIN_RATE_GRACE`.
    pub min_rate: Option<u64>,
}

/// Slow starts are normal (TCP slow start, a client still computing the body); the average
/// rate is only judged after this long.
const MIN_RATE_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub(crate) enum RelayFault {
    ReadTimeout,
    TooSlow,
    TooLarge,
    /// The source sent bytes that break the framing (bad chunk, ...).
    Malformed(HeadError),
    /// The source closed or reset before the body was complete.
    Truncated(Option<io::Error>),
    /// The sink failed (for a request body: the origin stopped reading).
    Write(io::Error),
}

/// Relays the whole body, end of body (and trailers) included; returns the body bytes relayed.
/// `scrub` removes what the scrubber removes from heads in this direction, so a trailer
/// cannot carry what a header may not.
pub(crate) async fn relay(
    src: &mut Source<'_>,
    dst: &mut Sink<'_>,
    limits: &RelayLimits,
    scrub: impl Fn(&mut Headers),
) -> Result<u64, RelayFault> {
    let started = Instant::now();
    let mut total: u64 = 0;
    loop {
        match src.next(limits, started, total).await? {
            BodyEvent::Data(data) => {
                total += data.len() as u64;
                if limits.max_bytes.is_some_and(|max| total > max) {
                    return Err(RelayFault::TooLarge);
                }
                check_rate(limits, started, total)?;
                if src.is_complete() {
                    // The last piece ends the body in the same frame or write.
                    dst.last(data, limits.write_idle).await.map_err(RelayFault::Write)?;
                    // Consumes the end (no I/O: the decoder or stream already knows it).
                    src.next(limits, started, total).await?;
                    return Ok(total);
                }
                dst.data(data, limits.write_idle).await.map_err(RelayFault::Write)?;
            }
            BodyEvent::End(trailers) => {
                let trailers = trailers.map(|t| {
                    let mut kept = forwardable_trailers(t);
                    scrub(&mut kept);
                    kept
                });
                dst.end(trailers, limits.write_idle).await.map_err(RelayFault::Write)?;
                return Ok(total);
            }
        }
    }
}

pub(super) fn check_rate(limits: &RelayLimits, started: Instant, total: u64) -> Result<(), RelayFault> {
    let Some(rate) = limits.min_rate else { return Ok(()) };
    let elapsed = started.elapsed();
    if elapsed >= MIN_RATE_GRACE && (total as f64) < rate as f64 * elapsed.as_secs_f64() {
        return Err(RelayFault::TooSlow);
    }
    Ok(())
}

/// Trailer fields that must not appear in a trailer section (RFC 9110 §6.5.1): framing,
/// routing and authentication fields, and hop-by-hop fields, are dropped rather than forwarded.
fn forwardable_trailers(mut trailers: Headers) -> Headers {
    const FORBIDDEN: [&str; 9] = [
        "content-length",
        "transfer-encoding",
        "host",
        "connection",
        "te",
        "trailer",
        "authorization",
        "set-cookie",
        "content-type",
    ];
    hop_by_hop::strip(&mut trailers);
    trailers.retain(|h| !FORBIDDEN.iter().any(|n| h.is(n)));
    trailers
}
