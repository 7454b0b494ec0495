//! The client side of one exchange: a whole HTTP/1.1 connection, or one HTTP/2 stream. The
//! phase chart (`exchange.rs`) asks it for the request body and hands it the response;
//! what differs between the protocols (framing, `Connection`, interim responses) is here.

use std::future::poll_fn;
use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::body::{h2_io, Encode, Sink, Source};
use super::io::Conn;
use super::stream::Stream;
use crate::http1::{render, BodyDecoder, BodyKind, ResponseHead, Version};
use crate::http2::convert;

pub(crate) enum Downstream<'c> {
    H1(&'c mut Conn),
    H2(H2Stream<'c>),
}

/// One HTTP/2 request stream: its body, and the handle to answer it.
pub(crate) struct H2Stream<'c> {
    pub recv: &'c mut h2::RecvStream,
    pub respond: &'c Responder,
    pub tls: bool,
}

/// The answering half of a stream. Shared (behind a lock held only for a call, never
/// across an await) so that the stream's task can watch for the client's RST_STREAM while
/// the exchange runs.
pub(crate) struct Responder(Mutex<h2::server::SendResponse<Bytes>>);

impl Responder {
    pub(crate) fn new(respond: h2::server::SendResponse<Bytes>) -> Responder {
        Responder(Mutex::new(respond))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, h2::server::SendResponse<Bytes>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Resolves when the client resets the stream before the response head was sent.
    /// After that, `h2` reports no reset here (an error), and the body's `SendStream`
    /// notices one itself.
    pub(crate) async fn reset(&self) {
        if poll_fn(|cx| self.lock().poll_reset(cx)).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Downstream<'_> {
    /// Whether the client reached us over TLS (`X-Forwarded-Proto: https`).
    pub(crate) fn is_tls(&self) -> bool {
        match self {
            Downstream::H1(conn) => matches!(conn.stream, Stream::Tls(_)),
            Downstream::H2(stream) => stream.tls,
        }
    }

    /// The request body, framed as `kind` says (HTTP/1.1) or as the stream's DATA frames.
    pub(crate) fn request_body(&mut self, kind: BodyKind, max_trailer_bytes: usize) -> Source<'_> {
        match self {
            Downstream::H1(conn) => Source::H1 { conn, decoder: BodyDecoder::new(kind, max_trailer_bytes) },
            Downstream::H2(stream) => Source::H2(stream.recv),
        }
    }

    /// `100 Continue`, for an HTTP/1.1 client that waits for it before sending its body.
    pub(crate) async fn send_continue(&mut self, within: Duration) -> io::Result<()> {
        match self {
            Downstream::H1(conn) => conn.write_all(b"HTTP/1.1 100 Continue\r\n\r\n", within).await,
            // HTTP/2 clients send while flow control lets them.
            Downstream::H2(_) => Ok(()),
        }
    }

    /// An interim (1xx) response such as 103 Early Hints, to clients that understand them.
    pub(crate) async fn send_interim(
        &mut self,
        head: &ResponseHead,
        version: Version,
        within: Duration,
    ) -> io::Result<()> {
        match self {
            Downstream::H1(conn) if version == Version::Http11 => {
                let mut out = BytesMut::new();
                render::response(head, None, false, &mut out);
                conn.write_all(&out, within).await
            }
            Downstream::H1(_) => Ok(()),
            Downstream::H2(stream) => {
                stream.respond.lock().send_informational(convert::client_response(head, None)).map_err(h2_io)
            }
        }
    }

    /// Sends the final response head. `body` is the framing of what follows (`Empty`: no
    /// body, as for HEAD, 204 and 304). Returns where to write the body, if any, and whether
    /// an HTTP/1.1 connection stays open after it (the client's wish, and a framing that
    /// delimits the body).
    pub(crate) async fn start_response(
        &mut self,
        resp: &mut ResponseHead,
        body: BodyKind,
        keep_alive: bool,
        version: Version,
        within: Duration,
    ) -> io::Result<(Option<Sink<'_>>, bool)> {
        match self {
            Downstream::H1(conn) => {
                let http10 = version == Version::Http10;
                let (framing, encode) = match body {
                    BodyKind::Empty => (None, Encode::Raw),
                    BodyKind::Length(n) => (Some(BodyKind::Length(n)), Encode::Raw),
                    // An HTTP/1.0 client cannot read chunked: it gets the raw body and a close.
                    BodyKind::Chunked | BodyKind::CloseDelimited if http10 => (None, Encode::Raw),
                    BodyKind::Chunked | BodyKind::CloseDelimited => (Some(BodyKind::Chunked), Encode::Chunked),
                };
                let keep_alive = keep_alive && (framing.is_some() || body == BodyKind::Empty);
                if http10 && keep_alive {
                    resp.headers.append(Bytes::from_static(b"Connection"), Bytes::from_static(b"keep-alive"));
                }
                let mut out = BytesMut::with_capacity(512);
                render::response(resp, framing, !keep_alive, &mut out);
                conn.write_all(&out, within).await?;
                let sink = (body != BodyKind::Empty).then(|| Sink::h1(&mut conn.stream, encode));
                Ok((sink, keep_alive))
            }
            Downstream::H2(stream) => {
                let length = match body {
                    BodyKind::Length(n) => Some(n),
                    _ => None,
                };
                let end = body == BodyKind::Empty;
                let send = stream.respond.lock().send_response(convert::client_response(resp, length), end);
                let send = send.map_err(h2_io)?;
                Ok(((!end).then_some(Sink::H2(send)), true))
            }
        }
    }

    /// A whole response made by the gateway (a plugin's reply, an error): `body` is sent
    /// unless `send_body` is false (HEAD), its length is declared unless the status is
    /// bodiless.
    pub(crate) async fn send_complete(
        &mut self,
        head: &ResponseHead,
        body: Bytes,
        send_body: bool,
        close: bool,
        within: Duration,
    ) -> io::Result<()> {
        let bodiless = head.status == 204 || head.status == 304;
        match self {
            Downstream::H1(conn) => {
                let framing = (!bodiless).then_some(BodyKind::Length(body.len() as u64));
                let mut out = BytesMut::with_capacity(256 + body.len());
                render::response(head, framing, close, &mut out);
                if send_body && !bodiless {
                    out.extend_from_slice(&body);
                }
                conn.write_all(&out, within).await
            }
            Downstream::H2(stream) => {
                let length = (!bodiless).then_some(body.len() as u64);
                let end = !send_body || bodiless || body.is_empty();
                let send = stream.respond.lock().send_response(convert::client_response(head, length), end);
                let send = send.map_err(h2_io)?;
                if !end {
                    Sink::H2(send).last(body, within).await?;
                }
                Ok(())
            }
        }
    }
}
