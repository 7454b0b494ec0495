//! Serving one client connection over HTTP/2: every stream is a request through the same
//! phase chart as HTTP/1.1 (`proxy::exchange`), on its own task.
//!
//! The attacks that broke other servers are bounded here or in `h2`:
//! - at most `max_concurrent_streams` (≤ 128) streams run at once; more are refused;
//! - rapid reset (CVE-2023-44487): streams reset before we accept them count against
//!   `h2`'s pending-reset limit, and streams the client resets while we work on them count
//!   against `[http2] max_resets` per 10 s; beyond either the connection gets
//!   GOAWAY(ENHANCE_YOUR_CALM). A reset stream's work (plugins, the upstream request) is
//!   dropped at once;
//! - CONTINUATION floods and oversized header lists end at `max_header_list_size` (431 or
//!   GOAWAY), SETTINGS and PING floods at one pending acknowledgement (`h2` stops reading
//!   until it is written), small-DATA floods at `h2`'s framing budget;
//! - uppercase names, connection-specific fields and bad pseudo-headers are malformed
//!   requests: RST_STREAM(PROTOCOL_ERROR), never forwarded.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{watch, Notify};
use tracing::Instrument;

use super::convert;
use crate::access::AccessRecord;
use crate::error::{error_parts, ProxyError};
use crate::proxy::downstream::{Downstream, H2Stream, Responder};
use crate::proxy::exchange::{exchange, Failure};
use crate::proxy::stream::Stream;
use crate::proxy::{account, note_failure};
use crate::server::Current;

/// Streams a client may reset before we even accept them (`h2`'s own rapid-reset guard).
const PENDING_ACCEPT_RESETS: usize = 50;
/// Response bytes `h2` buffers per stream before `send_data` waits for the socket.
const SEND_BUFFER: usize = 256 * 1024;
/// The window `[http2] max_resets` counts in.
const RESET_WINDOW: Duration = Duration::from_secs(10);

pub(crate) async fn serve(current: Current, stream: Stream, peer: SocketAddr, mut draining: watch::Receiver<bool>) {
    let tls = matches!(stream, Stream::Tls(_));
    let proxy = current.load_full();
    let settings = &proxy.config.http2;
    let timeouts = proxy.config.timeouts.clone();
    let mut builder = h2::server::Builder::new();
    builder
        .max_concurrent_streams(settings.max_concurrent_streams)
        .max_header_list_size(u32::try_from(settings.max_header_list_size).unwrap_or(u32::MAX))
        .initial_window_size(u32::try_from(settings.stream_window).unwrap_or(u32::MAX))
        .initial_connection_window_size(u32::try_from(settings.connection_window).unwrap_or(u32::MAX))
        .max_pending_accept_reset_streams(PENDING_ACCEPT_RESETS)
        .max_send_buffer_size(SEND_BUFFER);
    let streams = Arc::new(Streams::new(settings.max_resets));
    drop(proxy);
    let mut connection = match tokio::time::timeout(timeouts.header_read, builder.handshake(stream)).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(err)) => return tracing::debug!(%peer, error = %err, "HTTP/2 handshake failed"),
        Err(_) => return tracing::debug!(%peer, "HTTP/2 preface not received in time"),
    };
    let client_ip = Bytes::from(peer.ip().to_string());
    let (mut closing, mut calmed) = (false, false);
    loop {
        let idle = streams.open.load(Ordering::Acquire) == 0;
        tokio::select! {
            accepted = connection.accept() => match accepted {
                None => break,
                Some(Err(err)) => {
                    tracing::debug!(%peer, error = %err, "HTTP/2 connection ended");
                    break;
                }
                Some(Ok((request, respond))) => {
                    streams.open.fetch_add(1, Ordering::AcqRel);
                    let task = stream_task(current.clone(), request, respond, client_ip.clone(), draining.clone(), streams.clone(), tls, peer);
                    tokio::spawn(task);
                }
            },
            // A client that resets more than it lets us finish is attacking us.
            () = streams.calm_down.notified(), if !calmed => {
                tracing::warn!(%peer, "client reset too many HTTP/2 streams; closing the connection");
                connection.abrupt_shutdown(h2::Reason::ENHANCE_YOUR_CALM);
                calmed = true;
            }
            // Shutting down: GOAWAY, let the streams under way finish.
            _ = async { draining.wait_for(|d| *d).await.map(drop) }, if !closing => {
                connection.graceful_shutdown();
                closing = true;
            }
            () = tokio::time::sleep(timeouts.keepalive_idle), if idle && !closing => {
                connection.graceful_shutdown();
                closing = true;
            }
            // Re-evaluates `idle` after a stream ends.
            () = streams.finished.notified(), if !idle => {}
        }
    }
}

/// What a connection's streams tell it: how many are open, and whether the client resets
/// too many of them.
struct Streams {
    open: AtomicUsize,
    finished: Notify,
    calm_down: Notify,
    max_resets: u32,
    resets: Mutex<(Instant, u32)>,
}

impl Streams {
    fn new(max_resets: u32) -> Streams {
        Streams {
            open: AtomicUsize::new(0),
            finished: Notify::new(),
            calm_down: Notify::new(),
            max_resets,
            resets: Mutex::new((Instant::now(), 0)),
        }
    }

    fn client_reset(&self) {
        let mut window = self.resets.lock().unwrap_or_else(PoisonError::into_inner);
        if window.0.elapsed() > RESET_WINDOW {
            *window = (Instant::now(), 0);
        }
        window.1 += 1;
        if window.1 > self.max_resets {
            // `notify_one` keeps the signal if the connection loop is busy right now.
            self.calm_down.notify_one();
        }
    }
}

/// Counts a stream closed when its task ends, however it ends.
struct Open(Arc<Streams>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
        self.0.finished.notify_one();
    }
}

#[allow(clippy::too_many_arguments)]
async fn stream_task(
    current: Current,
    request: http::Request<h2::RecvStream>,
    respond: h2::server::SendResponse<Bytes>,
    client_ip: Bytes,
    draining: watch::Receiver<bool>,
    streams: Arc<Streams>,
    tls: bool,
    peer: SocketAddr,
) {
    let _open = Open(streams.clone());
    // Like an HTTP/1.1 request, a stream runs on the snapshot current when its head arrived.
    let proxy = current.load_full();
    let mut record = AccessRecord::new(Instant::now());
    let (parts, mut body) = request.into_parts();
    let end_of_stream = body.is_end_stream();
    let responder = Responder::new(respond);
    let mut client = Downstream::H2(H2Stream { recv: &mut body, respond: &responder, tls });
    let outcome = match convert::request_head(parts, end_of_stream, proxy.config.limits.max_headers) {
        Err(err) => Err(Failure::Respond(ProxyError::Client(err))),
        Ok(head) => {
            let span = tracing::error_span!("request", request_id = tracing::field::Empty);
            let exchanged = exchange(&proxy, &mut client, &client_ip, head, &draining, &mut record).instrument(span);
            tokio::select! {
                biased;
                outcome = exchanged => outcome,
                // The exchange (its plugin calls, its upstream request) is dropped with it.
                () = responder.reset() => {
                    streams.client_reset();
                    // As nginx logs it: the client closed the request before a response.
                    record.status = 499;
                    Err(Failure::Abort("client reset the stream"))
                }
            }
        }
    };
    match outcome {
        Ok(_) => {}
        Err(Failure::Respond(err)) => {
            note_failure(peer, &record, &err);
            record.status = err.status().0;
            let (head, body) = error_parts(&err, proxy.fields.via_name());
            let length = body.len() as u64;
            if client.send_complete(&head, body, true, false, proxy.config.timeouts.body_idle).await.is_ok() {
                record.bytes_sent = length;
            }
        }
        Err(Failure::Abort(reason)) => {
            let request_id = String::from_utf8_lossy(&record.request_id);
            tracing::debug!(%peer, %request_id, reason, "stream aborted");
            // A truncated response must look truncated: RST_STREAM, never a clean end.
            responder.lock().send_reset(h2::Reason::INTERNAL_ERROR);
        }
    }
    account(&proxy, &record, &client_ip);
}
