//! A proxy under test while it runs: its TLS port and the processes whose CPU time is its
//! cost (portcullis: one process; nginx: the master and its workers).

use std::path::Path;

use super::cert::Certificate;
use super::cpu;
use super::process::{self, Guard};

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

pub struct Running {
    pub peer: Peer,
    pub port: u16,
    main: Guard,
    /// Children of `main` whose CPU counts too: nginx's workers, found once it is up.
    workers: Vec<u32>,
}

impl Running {
    pub fn new(peer: Peer, port: u16, main: Guard, workers: Vec<u32>) -> Running {
        Running { peer, port, main, workers }
    }

    /// CPU time of every process of the peer, in clock ticks. An error when the peer died or,
    /// for nginx, a worker was replaced (its CPU time would be lost from the sum).
    pub fn cpu_ticks(&mut self) -> Result<u64, String> {
        if let Some(status) = self.main.exited()? {
            return Err(format!("{} exited during the bench ({status})", self.main.name()));
        }
        if !self.workers.is_empty() {
            let mut now = cpu::children(self.main.pid());
            now.sort_unstable();
            if now != self.workers {
                return Err(format!("{}'s workers changed from {:?} to {now:?}", self.main.name(), self.workers));
            }
        }
        let mut total = cpu::ticks(self.main.pid())?;
        for &worker in &self.workers {
            total += cpu::ticks(worker)?;
        }
        Ok(total)
    }
}

impl Drop for Running {
    /// Stops the main process gracefully (nginx's master takes its workers down), then
    /// kills, by PID, any worker left behind.
    fn drop(&mut self) {
        self.main.stop();
        for &worker in &self.workers {
            if cpu::name(worker).as_deref() == Some("nginx") {
                eprintln!("bench-h2: nginx worker {worker} outlived its master; killing it");
                let _ = process::signal(worker, "KILL");
            }
        }
    }
}
