//! Shared helpers for the integration tests: real sockets on 127.0.0.1:0, the real gateway
//! code path, and a raw client that parses responses independently of our own codec.
#![allow(dead_code, clippy::unwrap_used)]

pub mod client;
pub mod gateway;
pub mod h2;
pub mod origin;
pub mod plugins;
pub mod tls;

pub use client::{Client, Response};
pub use gateway::TestGateway;
pub use origin::Origin;
pub use plugins::PluginDir;
