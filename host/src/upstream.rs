//! Upstream groups: which endpoints a request tries, in which order, and how to connect.

mod connect;

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::config::{Balance, ConfigError, UpstreamConfig, UpstreamProtocol};
use crate::pool::PoolKey;
use crate::proxy::stream::Stream;
use crate::tls::UpstreamTls;

pub use connect::{connect, ConnectError};

/// A named group of interchangeable origin endpoints.
#[derive(Debug)]
pub struct Upstream {
    pub name: String,
    endpoints: Vec<String>,
    /// `keys[i]` is the pool key of `endpoints[i]`, built once rather than per request.
    keys: Vec<PoolKey>,
    /// Round-robin cursor shared by all workers; only its rotation matters, so wrapping
    /// and `Relaxed` are fine.
    next: AtomicUsize,
    /// Already clamped to `1..=endpoints.len()` (or 0 when there are no endpoints).
    max_attempts: u32,
    pub(crate) protocol: UpstreamProtocol,
    tls: Option<UpstreamTls>,
}

// === impl Upstream ===

impl Upstream {
    /// Fails only on the upstream's TLS files (CA, client certificate), naming its `tls` entry.
    pub fn new(name: &str, cfg: &UpstreamConfig) -> Result<Upstream, ConfigError> {
        // Round-robin is the only strategy; matching exhaustively makes a new one fail
        // to compile here instead of silently balancing round-robin.
        match cfg.balance {
            Balance::RoundRobin => {}
        }
        let endpoints = cfg.endpoints.clone();
        // Config validation guarantees 1 <= max_attempts and a non-empty list; clamp
        // anyway so a hand-built config can neither repeat an endpoint nor try none.
        let cap = u32::try_from(endpoints.len()).unwrap_or(u32::MAX);
        let max_attempts = cfg.max_attempts.max(1).min(cap);
        let tls = UpstreamTls::load(cfg)?;
        // Connections are interchangeable only with the same TLS, SNI name and protocol.
        let keys = endpoints
            .iter()
            .map(|endpoint| PoolKey {
                addr: endpoint.clone(),
                tls: tls.is_some(),
                sni: tls.as_ref().and_then(|t| t.server_name(endpoint)).map(|name| name.to_str().into_owned()),
                alpn: match (&tls, cfg.protocol) {
                    (Some(tls), _) => Some(String::from_utf8_lossy(tls.alpn).into_owned()),
                    (None, UpstreamProtocol::H2c) => Some("h2c".to_owned()),
                    (None, _) => None,
                },
            })
            .collect();
        let next = AtomicUsize::new(0);
        Ok(Upstream { name: name.to_owned(), endpoints, keys, next, max_attempts, protocol: cfg.protocol, tls })
    }

    pub(crate) fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// A fresh connection to `endpoint`: TCP, then the TLS handshake if configured, all
    /// within `timeout`.
    pub(crate) async fn open(&self, endpoint: &str, timeout: Duration) -> Result<Stream, ConnectError> {
        let deadline = Instant::now() + timeout;
        let tcp = connect(endpoint, timeout).await?;
        let Some(tls) = &self.tls else { return Ok(Stream::Plain(tcp)) };
        let tls_error = |detail: String| ConnectError::Tls { endpoint: endpoint.to_owned(), detail };
        let name =
            tls.server_name(endpoint).ok_or_else(|| tls_error("no server name to verify; set `tls.sni`".into()))?;
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, tls.handshake(name, tcp)).await {
            Err(_) => Err(ConnectError::Timeout(timeout)),
            Ok(Err(err)) => Err(tls_error(err.to_string())),
            Ok(Ok(stream)) => Ok(Stream::Tls(Box::new(stream.into()))),
        }
    }

    /// The endpoints to try for one request, in order: up to `max_attempts` distinct
    /// endpoints walking the ring from the next round-robin position. Each call advances
    /// the cursor by one, so consecutive requests start on consecutive endpoints.
    pub fn attempts(&self) -> impl Iterator<Item = &str> + '_ {
        self.attempts_keyed().map(|(endpoint, _)| endpoint)
    }

    /// `attempts`, with each endpoint's pool key.
    pub fn attempts_keyed(&self) -> impl Iterator<Item = (&str, &PoolKey)> + '_ {
        let len = self.endpoints.len();
        // Reduce before adding: `start + i` on the raw cursor could wrap at usize::MAX
        // and revisit an endpoint within one request.
        let start = match len {
            0 => 0,
            _ => self.next.fetch_add(1, Relaxed) % len,
        };
        (0..self.max_attempts as usize).map(move |i| {
            let at = (start + i) % len;
            (self.endpoints[at].as_str(), &self.keys[at])
        })
    }

    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    /// The effective bound on attempts per request (after clamping to the endpoint count).
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }
}

#[cfg(test)]
mod tests;
