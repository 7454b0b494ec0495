//! Opening a fresh TCP connection to an origin endpoint.

use std::io;
use std::time::Duration;

use tokio::net::TcpStream;

/// Why a fresh upstream connection could not be opened. Both variants happen before a
/// single request byte is sent, so retrying on the next endpoint is always safe.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Resolution plus TCP handshake did not finish within the connect timeout.
    #[error("connect timed out after {0:?}")]
    Timeout(Duration),
    /// Resolution failed, the origin refused or reset, or the socket setup failed.
    #[error("connect to {endpoint}: {source}")]
    Io {
        endpoint: String,
        #[source]
        source: io::Error,
    },
    /// The TLS handshake failed (an untrusted certificate, a name mismatch, no common ALPN).
    #[error("TLS with {endpoint}: {detail}")]
    Tls { endpoint: String, detail: String },
    /// The origin did not complete the HTTP/2 connection preface.
    #[error("{0}")]
    Protocol(String),
}

/// Connects to `endpoint` (`host:port`; names are resolved, and every resolved address
/// is tried in turn, all within the one `timeout`). Sets `TCP_NODELAY`: the proxy writes
/// whole heads and body chunks itself, so Nagle would only add latency.
pub async fn connect(endpoint: &str, timeout: Duration) -> Result<TcpStream, ConnectError> {
    let io_error = |source| ConnectError::Io { endpoint: endpoint.to_owned(), source };
    let stream = tokio::time::timeout(timeout, TcpStream::connect(endpoint))
        .await
        .map_err(|_elapsed| ConnectError::Timeout(timeout))?
        .map_err(io_error)?;
    stream.set_nodelay(true).map_err(io_error)?;
    Ok(stream)
}
