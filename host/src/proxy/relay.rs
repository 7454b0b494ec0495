//! Streams one message body from a source connection to a sink, re-framing on the way.
//!
//! Memory stays bounded whatever the body size: at most one read chunk is in flight, and
//! we only read again after the previous piece was written (backpressure end to end).

use std::io;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use tokio::net::TcpStream;

use super::io::{write_buf, Conn, ReadFault, READ_CHUNK};
use crate::http1::{hop_by_hop, render, BodyDecoder, BodyEvent, HeadError, Headers};

/// How the body is framed towards the sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encode {
    /// Bytes as decoded: for Content-Length bodies and close-delimited output.
    Raw,
    Chunked,
}

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
    src: &mut Conn,
    decoder: &mut BodyDecoder,
    dst: &mut TcpStream,
    encode: Encode,
    limits: &RelayLimits,
    scrub: impl Fn(&mut Headers),
) -> Result<u64, RelayFault> {
    let started = Instant::now();
    let mut total: u64 = 0;
    let mut frame = BytesMut::with_capacity(32);
    loop {
        let event = match decoder.next(&mut src.buf, READ_CHUNK).map_err(RelayFault::Malformed)? {
            Some(event) => event,
            None => match src.read_more(limits.read_idle).await {
                Ok(0) => match decoder.on_eof() {
                    Ok(event) => event,
                    Err(_) => return Err(RelayFault::Truncated(None)),
                },
                Ok(_) => {
                    check_rate(limits, started, total)?;
                    continue;
                }
                Err(ReadFault::Timeout) => return Err(RelayFault::ReadTimeout),
                Err(ReadFault::Io(e)) => return Err(RelayFault::Truncated(Some(e))),
            },
        };
        match event {
            BodyEvent::Data(data) => {
                total += data.len() as u64;
                if limits.max_bytes.is_some_and(|max| total > max) {
                    return Err(RelayFault::TooLarge);
                }
                write_piece(dst, &mut frame, data, encode, limits.write_idle).await?;
            }
            BodyEvent::End(trailers) => {
                if encode == Encode::Chunked {
                    frame.clear();
                    let trailers = trailers.map(|t| {
                        let mut kept = forwardable_trailers(t);
                        scrub(&mut kept);
                        kept
                    });
                    render::last_chunk(trailers.as_ref(), &mut frame);
                    write_buf(dst, frame.split().freeze(), limits.write_idle).await.map_err(RelayFault::Write)?;
                }
                return Ok(total);
            }
        }
    }
}

async fn write_piece(
    dst: &mut TcpStream,
    frame: &mut BytesMut,
    data: Bytes,
    encode: Encode,
    within: Duration,
) -> Result<(), RelayFault> {
    let result = match encode {
        Encode::Raw => write_buf(dst, data, within).await,
        Encode::Chunked => {
            frame.clear();
            render::chunk_size(data.len(), frame);
            let piece = frame.split().freeze().chain(data).chain(&b"\r\n"[..]);
            write_buf(dst, piece, within).await
        }
    };
    result.map_err(RelayFault::Write)
}

fn check_rate(limits: &RelayLimits, started: Instant, total: u64) -> Result<(), RelayFault> {
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
