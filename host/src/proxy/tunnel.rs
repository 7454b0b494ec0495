//! Upgraded connections (WebSocket): after the origin's 101, bytes flow both ways untouched
//! until either side closes. Only reached when the route lists the protocol.

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;

use super::io::Conn;
use super::Proxy;
use crate::http1::{render, ResponseHead};

pub(crate) async fn tunnel(proxy: &Proxy, client: &mut Conn, mut origin: Conn, mut resp: ResponseHead) {
    let protocol = resp.headers.get("upgrade").cloned();
    proxy.fields.response(&mut resp.headers);
    resp.headers.append(Bytes::from_static(b"Connection"), Bytes::from_static(b"upgrade"));
    if let Some(protocol) = protocol {
        resp.headers.append(Bytes::from_static(b"Upgrade"), protocol);
    }
    let mut out = BytesMut::new();
    render::response(&resp, None, false, &mut out);
    // Bytes that arrived behind either head already belong to the new protocol.
    out.extend_from_slice(&origin.buf.split());
    let early = client.buf.split();
    let idle = proxy.config.timeouts.body_idle;
    if client.write_all(&out, idle).await.is_err() || origin.write_all(&early, idle).await.is_err() {
        return;
    }
    match tokio::io::copy_bidirectional(&mut client.stream, &mut origin.stream).await {
        Ok((up, down)) => tracing::debug!(up, down, "tunnel closed"),
        Err(err) => tracing::debug!(error = %err, "tunnel ended with an error"),
    }
    let _ = origin.stream.shutdown().await;
}
