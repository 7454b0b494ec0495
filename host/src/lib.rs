//! portcullis: a reverse proxy whose business logic runs as sandboxed WebAssembly
//! components. This crate is the native host: accept loop, TLS, HTTP/1.1 codec and
//! HTTP/2, routing, the shared upstream connection pool, limits and timeouts.
//!
//! The request path follows the phase chart in `ARCHITECTURE.md`; `proxy::exchange`
//! reads top to bottom in that order.

mod access;
mod admin;
pub mod config;
pub mod demo;
pub mod error;
mod handover;
pub mod http1;
mod http2;
mod metrics;
pub mod plugin;
pub mod pool;
pub mod proxy;
mod reload;
pub mod route;
mod sched;
pub mod server;
mod signals;
mod tls;
pub mod upstream;

pub use config::Config;
pub use server::{check, run, Gateway};
