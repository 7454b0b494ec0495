//! A new client connection: the TLS handshake on TLS listeners, then the protocol: HTTP/2
//! if ALPN chose `h2` (or, on cleartext listeners with `server.h2c`, if the client opens
//! with the HTTP/2 preface), else HTTP/1.1.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::sync::watch;

use super::connection;
use super::stream::Stream;
use crate::server::Current;

/// The first bytes of every HTTP/2 connection (RFC 9113 §3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

pub(crate) async fn accept(
    current: Current,
    tcp: TcpStream,
    peer: SocketAddr,
    draining: watch::Receiver<bool>,
    tls: bool,
) {
    let _ = tcp.set_nodelay(true);
    let proxy = current.load_full();
    let header_read = proxy.config.timeouts.header_read;
    if tls {
        // A snapshot serving a TLS listener always has certificates (checked at load).
        let Some(server_tls) = proxy.tls.clone() else { return };
        drop(proxy);
        let stream = match tokio::time::timeout(header_read, server_tls.acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(err)) => return tracing::debug!(%peer, error = %err, "TLS handshake failed"),
            Err(_) => return tracing::debug!(%peer, "TLS handshake not completed in time"),
        };
        let h2 = stream.get_ref().1.alpn_protocol() == Some(crate::tls::ALPN_H2);
        let stream = Stream::Tls(Box::new(stream.into()));
        if h2 {
            crate::http2::server::serve(current, stream, peer, draining).await;
        } else {
            connection::serve(current, stream, peer, draining).await;
        }
        return;
    }
    let h2c = proxy.config.server.h2c;
    drop(proxy);
    if h2c && opens_with_preface(&tcp, header_read).await {
        crate::http2::server::serve(current, Stream::Plain(tcp), peer, draining).await;
    } else {
        connection::serve(current, Stream::Plain(tcp), peer, draining).await;
    }
}

/// Peeks (without consuming) until the first bytes either are the HTTP/2 preface or cannot
/// be. An HTTP/1.1 request line differs from it within the first bytes.
async fn opens_with_preface(tcp: &TcpStream, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; PREFACE.len()];
    loop {
        let wait = deadline.saturating_duration_since(Instant::now());
        let n = match tokio::time::timeout(wait, tcp.peek(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => n,
            // Closed, failed or silent: HTTP/1.1 handling reports it as it always has.
            _ => return false,
        };
        if buf[..n] != PREFACE[..n] {
            return false;
        }
        if n == PREFACE.len() {
            return true;
        }
        // A preface split across segments: peek returns at once while bytes are pending,
        // so wait a little for the rest instead of spinning.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
