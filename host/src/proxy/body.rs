//! Where a body comes from and goes to: an HTTP/1.1 connection (decoded / encoded with its
//! framing) or an HTTP/2 stream (DATA frames with flow control, trailers as HEADERS). The
//! relay loop sees only `BodyEvent`s, so every pairing of protocols streams the same way.

use std::future::poll_fn;
use std::io;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};

use super::io::{write_buf, Conn, ReadFault, READ_CHUNK};
use super::relay::{check_rate, RelayFault, RelayLimits};
use super::stream::Stream;
use crate::http1::{render, BodyDecoder, BodyEvent, Headers};
use crate::http2::convert;

/// How an HTTP/1.1 body is framed towards its sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encode {
    /// Bytes as decoded: for Content-Length bodies and close-delimited output.
    Raw,
    Chunked,
}

pub(crate) enum Source<'a> {
    H1 { conn: &'a mut Conn, decoder: BodyDecoder },
    H2(&'a mut h2::RecvStream),
}

impl Source<'_> {
    /// The next piece of body, or its end (with trailers); waits at most `limits.read_idle`
    /// for input, and checks the minimum rate after every read (a body trickling in as
    /// chunk-size lines alone produces no data, but still reads).
    pub(crate) async fn next(
        &mut self,
        limits: &RelayLimits,
        started: Instant,
        total: u64,
    ) -> Result<BodyEvent, RelayFault> {
        let idle = limits.read_idle;
        match self {
            Source::H1 { conn, decoder } => loop {
                if let Some(event) = decoder.next(&mut conn.buf, READ_CHUNK).map_err(RelayFault::Malformed)? {
                    return Ok(event);
                }
                match conn.read_body(idle).await {
                    Ok(0) => return decoder.on_eof().map_err(|_| RelayFault::Truncated(None)),
                    Ok(_) => check_rate(limits, started, total)?,
                    Err(ReadFault::Timeout) => return Err(RelayFault::ReadTimeout),
                    Err(ReadFault::Io(e)) => return Err(RelayFault::Truncated(Some(e))),
                }
            },
            Source::H2(recv) => loop {
                match tokio::time::timeout(idle, recv.data()).await {
                    Err(_) => return Err(RelayFault::ReadTimeout),
                    Ok(Some(Ok(data))) => {
                        // Reading the frame is what lets the peer send more: at most one
                        // stream window is ever buffered, and we read again only after the
                        // previous piece was written.
                        let _ = recv.flow_control().release_capacity(data.len());
                        if !data.is_empty() {
                            return Ok(BodyEvent::Data(data));
                        }
                    }
                    Ok(Some(Err(err))) => return Err(RelayFault::Truncated(Some(h2_io(err)))),
                    Ok(None) => {
                        return match tokio::time::timeout(idle, recv.trailers()).await {
                            Err(_) => Err(RelayFault::ReadTimeout),
                            Ok(Ok(trailers)) => Ok(BodyEvent::End(trailers.map(|t| convert::headers_from_map(&t)))),
                            Ok(Err(err)) => Err(RelayFault::Truncated(Some(h2_io(err)))),
                        };
                    }
                }
            },
        }
    }
}

impl Source<'_> {
    /// Whether the body is known to be complete with what was delivered so far, with no
    /// trailers to come: a Content-Length body read to its end, or a stream that ended with
    /// its last DATA frame. The sink can then end with the last piece (one frame, one write).
    pub(crate) fn is_complete(&self) -> bool {
        match self {
            Source::H1 { decoder, .. } => decoder.is_ending(),
            Source::H2(recv) => recv.is_end_stream(),
        }
    }
}

pub(crate) enum Sink<'a> {
    H1 { stream: &'a mut Stream, encode: Encode, frame: BytesMut },
    H2(h2::SendStream<Bytes>),
}

impl Sink<'_> {
    pub(crate) fn h1(stream: &mut Stream, encode: Encode) -> Sink<'_> {
        Sink::H1 { stream, encode, frame: BytesMut::with_capacity(32) }
    }

    pub(crate) async fn data(&mut self, data: Bytes, within: Duration) -> io::Result<()> {
        self.write(data, false, within).await
    }

    /// Writes the last piece of a body that has no trailers, and ends it in the same frame
    /// or write: DATA with END_STREAM, or a chunk followed by the last chunk.
    pub(crate) async fn last(&mut self, data: Bytes, within: Duration) -> io::Result<()> {
        self.write(data, true, within).await
    }

    async fn write(&mut self, data: Bytes, end: bool, within: Duration) -> io::Result<()> {
        match self {
            Sink::H1 { stream, encode: Encode::Raw, .. } => write_buf(stream, data, within).await,
            Sink::H1 { stream, encode: Encode::Chunked, frame } => {
                frame.clear();
                render::chunk_size(data.len(), frame);
                let size = frame.split().freeze();
                if end {
                    render::last_chunk(None, frame);
                }
                let piece = size.chain(data).chain(&b"\r\n"[..]).chain(frame.split().freeze());
                write_buf(stream, piece, within).await
            }
            Sink::H2(send) => send_data(send, data, end, within).await,
        }
    }

    /// Ends the body: the last chunk (with trailers) for chunked HTTP/1.1, nothing more for
    /// raw HTTP/1.1 (trailers cannot be sent), a HEADERS or empty DATA frame for HTTP/2.
    pub(crate) async fn end(&mut self, trailers: Option<Headers>, within: Duration) -> io::Result<()> {
        match self {
            Sink::H1 { encode: Encode::Raw, .. } => Ok(()),
            Sink::H1 { stream, encode: Encode::Chunked, frame } => {
                frame.clear();
                render::last_chunk(trailers.as_ref(), frame);
                write_buf(stream, frame.split().freeze(), within).await
            }
            Sink::H2(send) => match trailers.filter(|t| !t.is_empty()) {
                Some(trailers) => send.send_trailers(convert::header_map(&trailers)).map_err(h2_io),
                None => send.send_data(Bytes::new(), true).map_err(h2_io),
            },
        }
    }
}

/// Sends `data` as the peer's flow control allows, waiting at most `within` each time for
/// more window: a reader that stops reading cannot make us buffer its body. With `end`, the
/// last frame carries END_STREAM.
async fn send_data(send: &mut h2::SendStream<Bytes>, mut data: Bytes, end: bool, within: Duration) -> io::Result<()> {
    if data.is_empty() {
        return if end { send.send_data(data, true).map_err(h2_io) } else { Ok(()) };
    }
    while !data.is_empty() {
        send.reserve_capacity(data.len());
        let granted = match tokio::time::timeout(within, poll_fn(|cx| send.poll_capacity(cx))).await {
            Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "peer's flow-control window stayed shut")),
            Ok(None) => return Err(io::Error::new(io::ErrorKind::BrokenPipe, "stream closed")),
            Ok(Some(granted)) => granted.map_err(h2_io)?,
        };
        if granted == 0 {
            continue;
        }
        let piece = data.split_to(granted.min(data.len()));
        send.send_data(piece, end && data.is_empty()).map_err(h2_io)?;
    }
    Ok(())
}

pub(crate) fn h2_io(err: h2::Error) -> io::Error {
    if err.is_io() {
        return err.into_io().unwrap_or_else(|| io::Error::other("h2 i/o error"));
    }
    io::Error::other(err)
}
