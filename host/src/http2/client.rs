//! The client side towards HTTP/2 origins: a handshake on a fresh connection, whose driver
//! runs as its own task for as long as the connection lives.

use std::time::Duration;

use bytes::Bytes;

use crate::proxy::stream::Stream;
use crate::upstream::ConnectError;

/// Flow-control windows towards origins: large enough that one stream is not held back by
/// the protocol's 64 KiB default on a fast link, small enough to bound what one slow client
/// can make us buffer.
const STREAM_WINDOW: u32 = 1 << 20;
const CONNECTION_WINDOW: u32 = 4 << 20;

pub(crate) async fn handshake(
    stream: Stream,
    within: Duration,
) -> Result<h2::client::SendRequest<Bytes>, ConnectError> {
    let mut builder = h2::client::Builder::new();
    builder.initial_window_size(STREAM_WINDOW).initial_connection_window_size(CONNECTION_WINDOW).enable_push(false);
    let (sender, connection) = match tokio::time::timeout(within, builder.handshake(stream)).await {
        Err(_) => return Err(ConnectError::Timeout(within)),
        Ok(Err(err)) => return Err(ConnectError::Protocol(format!("HTTP/2 handshake: {err}"))),
        Ok(Ok(handshaken)) => handshaken,
    };
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::debug!(error = %err, "HTTP/2 origin connection ended");
        }
    });
    Ok(sender)
}
