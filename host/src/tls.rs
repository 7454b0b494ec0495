//! TLS with rustls (ring provider): the listeners' certificates chosen by SNI, and the
//! client side of upstreams. Everything here is built with a snapshot, so a reload reads
//! renewed certificate files; handshakes in progress keep the config they started with.

mod client;
mod pem;
mod server;

pub(crate) use client::UpstreamTls;
pub(crate) use server::ServerTls;

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

/// ALPN identifiers, in our order of preference.
pub(crate) const ALPN_H2: &[u8] = b"h2";
pub(crate) const ALPN_HTTP11: &[u8] = b"http/1.1";

/// The one crypto provider: ring (rustls' own defaults: TLS 1.2 and 1.3, AEAD suites only).
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
