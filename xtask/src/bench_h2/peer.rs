//! The two peers of bench-h2 and what both are started with.

use std::path::Path;

use super::cert::Certificate;

/// What both peers are started with, so they are configured alike.
pub struct Launch<'a> {
    /// Config, pid and log files go here.
    pub dir: &'a Path,
    pub cert: &'a Certificate,
    /// The origin's port on 127.0.0.1.
    pub origin: u16,
    /// The CPU the proxy is pinned to.
    pub cpu: Option<u32>,
    /// Idle origin connections kept (nginx `keepalive`, portcullis `[pool] max_idle_per_key`).
    pub pool: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    Portcullis,
    Nginx,
}

impl Peer {
    pub fn name(self) -> &'static str {
        match self {
            Peer::Portcullis => "portcullis",
            Peer::Nginx => "nginx",
        }
    }
}
