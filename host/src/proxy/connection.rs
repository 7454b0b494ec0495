//! One client connection: read a head, run the exchange, repeat while keep-alive holds.
//! Pipelined requests are answered in order because the next head is only parsed from the
//! buffer after the previous exchange has finished.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tracing::Instrument;

use super::downstream::Downstream;
use super::exchange::{exchange, After, Failure};
use super::io::{Conn, ReadFault};
use super::stream::Stream;
use super::Proxy;
use crate::access::AccessRecord;
use crate::error::{error_response, ProxyError};
use crate::http1::{RequestHead, RequestParser};

/// `draining` turns true when the gateway shuts down: an idle connection closes at once, a
/// request under way finishes and its response closes the connection.
pub(crate) async fn serve(
    current: crate::server::Current,
    stream: Stream,
    peer: SocketAddr,
    mut draining: watch::Receiver<bool>,
) {
    let mut client = Conn::new(stream);
    let mut parser = RequestParser::new(current.load().head_limits);
    let mut first = true;
    let client_ip = bytes::Bytes::from(peer.ip().to_string());
    loop {
        let waiting = current.load_full();
        let head = match read_head(&waiting, &mut client, &mut parser, first, &mut draining).await {
            Ok(Some(head)) => head,
            Ok(None) => return,
            Err(err) => {
                // No head to take an id or a route from; the line still records the refusal.
                tracing::debug!(%peer, error = %err, "refusing request head");
                let mut record = AccessRecord::new(Instant::now());
                record.status = err.status().0;
                let sent = respond(&waiting, &mut client, &err).await;
                record.bytes_sent = sent.unwrap_or(0);
                account(&waiting, &record, &client_ip);
                if sent.is_some() {
                    linger(&mut client).await;
                }
                return;
            }
        };
        first = false;
        // The request begins now, on the snapshot current now, and ends on it: a reload
        // changes the next request, never one half-way through.
        let proxy = current.load_full();
        let mut record = AccessRecord::new(Instant::now());
        // Every line logged while the request runs (a plugin failure, a failed connect)
        // carries its id; `exchange` records it once known. At error level so that the span
        // is on whenever any line is logged (a filter of `warn` would drop an info span).
        let span = tracing::error_span!("request", request_id = tracing::field::Empty);
        let mut downstream = Downstream::H1(&mut client);
        let outcome =
            exchange(&proxy, &mut downstream, &client_ip, head, &draining, &mut record).instrument(span).await;
        let after = match outcome {
            Ok(after) => after,
            Err(Failure::Respond(err)) => {
                note_failure(peer, &record, &err);
                record.status = err.status().0;
                match respond(&proxy, &mut client, &err).await {
                    Some(sent) => {
                        record.bytes_sent = sent;
                        After::CloseUnread
                    }
                    None => After::Close,
                }
            }
            Err(Failure::Abort(reason)) => {
                let request_id = String::from_utf8_lossy(&record.request_id);
                tracing::debug!(%peer, %request_id, reason, "connection aborted");
                After::Close
            }
        };
        // Logged and counted before any lingering: the client already has its response.
        account(&proxy, &record, &client_ip);
        match after {
            After::KeepAlive => continue,
            After::Close => return,
            After::CloseUnread => return linger(&mut client).await,
        }
    }
}

/// Logs a request the gateway answers with an error: a warning for 5xx, else debug.
pub(crate) fn note_failure(peer: SocketAddr, record: &AccessRecord, err: &ProxyError) {
    let (status, _) = err.status();
    let request_id = String::from_utf8_lossy(&record.request_id);
    if status >= 500 {
        tracing::warn!(%peer, %request_id, error = %err, status, "request failed");
    } else {
        tracing::debug!(%peer, %request_id, error = %err, status, "request refused");
    }
}

/// The request's access line (if enabled) and its metrics.
pub(crate) fn account(proxy: &Proxy, record: &AccessRecord, client_ip: &bytes::Bytes) {
    if proxy.config.log.access {
        record.log(client_ip);
    }
    let route = record.route.as_deref().unwrap_or("-");
    crate::metrics::metrics().request(route, &record.method, record.status, record.started.elapsed());
}

/// Waits for a complete head. The first byte may take `header_read` on a new connection or
/// `keepalive_idle` between requests; once a head has started it must be complete within
/// `header_read` of its first byte, however slowly it trickles in (slowloris). Between
/// requests of a keep-alive connection, draining ends the wait (`None`: close); a head
/// already started or pipelined, and the first request of a new connection (its client
/// has just connected and is sending it), are still served.
async fn read_head(
    proxy: &Proxy,
    client: &mut Conn,
    parser: &mut RequestParser,
    first: bool,
    draining: &mut watch::Receiver<bool>,
) -> Result<Option<RequestHead>, ProxyError> {
    let timeouts = &proxy.config.timeouts;
    let idle = if first { timeouts.header_read } else { timeouts.keepalive_idle };
    let mut deadline: Option<Instant> = None;
    loop {
        if !client.buf.is_empty() {
            if let Some(head) = parser.parse(&mut client.buf).map_err(ProxyError::Client)? {
                return Ok(Some(head));
            }
            deadline.get_or_insert_with(|| Instant::now() + timeouts.header_read);
        }
        let wait = deadline.map_or(idle, |d| d.saturating_duration_since(Instant::now()));
        let read = if client.buf.is_empty() && !first {
            tokio::select! {
                biased;
                _ = draining.wait_for(|draining| *draining) => return Ok(None),
                read = client.read_more(wait) => read,
            }
        } else {
            client.read_more(wait).await
        };
        match read {
            Ok(0) | Err(ReadFault::Io(_)) => return Ok(None),
            Ok(_) => continue,
            Err(ReadFault::Timeout) if deadline.is_some() => return Err(ProxyError::ClientTimeout),
            Err(ReadFault::Timeout) => return Ok(None),
        }
    }
}

/// Sends an error response, then closes without resetting the connection: closing a socket
/// with unread input makes the kernel send RST, which can destroy the response before the
/// client reads it (a client still uploading the body it was refused for, say).
async fn respond_and_close(proxy: &Proxy, client: &mut Conn, err: &ProxyError) {
    if respond(proxy, client, err).await.is_some() {
        linger(client).await;
    }
}

/// Sends an error response; the bytes of body sent, or `None` if the client went away.
/// The caller closes with `linger`.
async fn respond(proxy: &Proxy, client: &mut Conn, err: &ProxyError) -> Option<u64> {
    let out = error_response(err, proxy.fields.via_name());
    client.write_all(&out, proxy.config.timeouts.body_idle).await.ok()?;
    Some(body_length(&out))
}

/// The body length of a rendered error response (what follows the blank line).
fn body_length(response: &[u8]) -> u64 {
    let head_end = response.windows(4).position(|w| w == b"\r\n\r\n").map_or(response.len(), |at| at + 4);
    (response.len() - head_end) as u64
}

/// Half-closes and discards what the client still sends, for at most `LINGER` in total and
/// `LINGER_BYTES`, so a slow client cannot hold the connection slot.
async fn linger(client: &mut Conn) {
    const LINGER: Duration = Duration::from_secs(2);
    const LINGER_BYTES: usize = 1 << 20;
    let _ = client.stream.shutdown().await;
    let drain = async {
        let mut drained = 0;
        while drained < LINGER_BYTES {
            client.buf.clear();
            match client.read_more(LINGER).await {
                Ok(n) if n > 0 => drained += n,
                _ => return,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// Over `max_connections`: answer 503 instead of leaving the client hanging in a queue.
pub(crate) async fn reject_overloaded(proxy: Arc<Proxy>, stream: TcpStream) {
    let mut client = Conn::new(stream);
    respond_and_close(&proxy, &mut client, &ProxyError::Overloaded).await;
}
