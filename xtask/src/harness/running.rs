//! A proxy under test while it runs: its ports and the processes whose CPU time and memory
//! are its cost (one process, or nginx's master and its workers).

use super::cpu;
use super::process::{self, Guard};

pub struct Running {
    pub name: &'static str,
    /// HTTP/1.1 (and TLS, for bench-h2) listener.
    pub port: u16,
    /// Cleartext HTTP/2 listener: the same port for proxies that tell the two apart by the
    /// preface, another for those that cannot (nginx, HAProxy).
    pub h2_port: u16,
    main: Guard,
    /// Children of `main` whose CPU counts too: nginx's workers, found once it is up.
    workers: Vec<u32>,
}

impl Running {
    pub fn new(name: &'static str, port: u16, h2_port: u16, main: Guard, mut workers: Vec<u32>) -> Running {
        workers.sort_unstable();
        Running { name, port, h2_port, main, workers }
    }

    /// Every process of the peer.
    fn pids(&self) -> impl Iterator<Item = u32> + '_ {
        std::iter::once(self.main.pid()).chain(self.workers.iter().copied())
    }

    /// An error when the peer died or, for nginx, a worker was replaced (its CPU time would
    /// be lost from the sum).
    fn check_alive(&mut self) -> Result<(), String> {
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
        Ok(())
    }

    /// CPU time of every process of the peer, in clock ticks.
    pub fn cpu_ticks(&mut self) -> Result<u64, String> {
        self.check_alive()?;
        self.pids().map(cpu::ticks).sum()
    }

    /// Proportional set size of every process of the peer, in KiB: its own pages plus its
    /// share of pages it shares (nginx's master and worker share most of theirs).
    pub fn pss_kib(&mut self) -> Result<u64, String> {
        self.check_alive()?;
        self.pids().map(cpu::pss_kib).sum()
    }
}

impl Drop for Running {
    /// Stops the main process gracefully (nginx's master takes its workers down), then
    /// kills, by PID, any worker left behind.
    fn drop(&mut self) {
        self.main.stop();
        for &worker in &self.workers {
            if cpu::name(worker).is_some_and(|name| self.main.name().starts_with(&name)) {
                eprintln!("bench: {} worker {worker} outlived its master; killing it", self.main.name());
                let _ = process::signal(worker, "KILL");
            }
        }
    }
}
