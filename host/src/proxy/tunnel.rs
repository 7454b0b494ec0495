//! Upgraded connections (WebSocket): after the origin's 101, bytes flow both ways untouched
//! until either side closes or the tunnel has been silent for `tunnel_idle`. Only reached
//! when the route lists the protocol.

use std::io;
use std::time::Duration;

use super::io::Conn;
use super::stream::Stream;
use super::Proxy;
use crate::http1::{render, ResponseHead};
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub(crate) async fn tunnel(proxy: &Proxy, client: &mut Conn, mut origin: Conn, mut resp: ResponseHead) {
    let protocol = resp.headers.get("upgrade").cloned();
    proxy.fields.response(&mut resp.headers);
    proxy.scrub.response(&mut resp.headers);
    resp.headers.append(Bytes::from_static(b"Connection"), Bytes::from_static(b"upgrade"));
    if let Some(protocol) = protocol {
        resp.headers.append(Bytes::from_static(b"Upgrade"), protocol);
    }
    let mut out = BytesMut::new();
    render::response(&resp, None, false, &mut out);
    // Bytes that arrived behind either head already belong to the new protocol.
    out.extend_from_slice(&origin.buf.split());
    let early = client.buf.split();
    let timeouts = &proxy.config.timeouts;
    if client.write_all(&out, timeouts.body_idle).await.is_err()
        || origin.write_all(&early, timeouts.body_idle).await.is_err()
    {
        return;
    }
    match pump(&mut client.stream, &mut origin.stream, timeouts.tunnel_idle).await {
        Ok((up, down)) => tracing::debug!(up, down, "tunnel closed"),
        Err(err) => tracing::debug!(error = %err, "tunnel ended"),
    }
    let _ = origin.stream.shutdown().await;
}

/// Copies both ways, forwarding each half-close, until both directions are done. Any
/// traffic resets the idle clock; silence for `idle` ends the tunnel.
async fn pump(client: &mut Stream, origin: &mut Stream, idle: Duration) -> io::Result<(u64, u64)> {
    // Generic halves (a lock between them), since either side may be TLS.
    let (mut client_rx, mut client_tx) = tokio::io::split(client);
    let (mut origin_rx, mut origin_tx) = tokio::io::split(origin);
    let mut up_buf = vec![0u8; 16 * 1024];
    let mut down_buf = vec![0u8; 16 * 1024];
    let (mut up, mut down) = (0u64, 0u64);
    let (mut client_open, mut origin_open) = (true, true);
    while client_open || origin_open {
        tokio::select! {
            read = client_rx.read(&mut up_buf), if client_open => match read? {
                0 => {
                    client_open = false;
                    origin_tx.shutdown().await?;
                }
                n => {
                    write_within(&mut origin_tx, &up_buf[..n], idle).await?;
                    up += n as u64;
                }
            },
            read = origin_rx.read(&mut down_buf), if origin_open => match read? {
                0 => {
                    origin_open = false;
                    client_tx.shutdown().await?;
                }
                n => {
                    write_within(&mut client_tx, &down_buf[..n], idle).await?;
                    down += n as u64;
                }
            },
            _ = tokio::time::sleep(idle) => {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "tunnel idle"));
            }
        }
    }
    Ok((up, down))
}

/// A peer that stops reading for `idle` is as dead as one that stops writing.
async fn write_within(tx: &mut (impl AsyncWriteExt + Unpin), data: &[u8], idle: Duration) -> io::Result<()> {
    let write = async {
        tx.write_all(data).await?;
        tx.flush().await
    };
    tokio::time::timeout(idle, write)
        .await
        .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "tunnel peer stopped reading")))
}
