//! The bench's child processes: started pinned to one CPU, stopped by their own PID (never
//! by name), and waited for with a deadline, so no run can hang the bench or outlive it.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a stopped process gets to exit after SIGTERM before it gets SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

/// `program` under `taskset -c cpu` (taskset execs it: the child's PID is the program's),
/// or bare when pinning is off.
pub fn pinned(program: &Path, cpu: Option<u32>) -> Command {
    match cpu {
        Some(cpu) => {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(cpu.to_string()).arg(program);
            command
        }
        None => Command::new(program),
    }
}

/// Moves this process (and what it starts later) to `cpu`, so the load side stays off the
/// proxy's core. `false` when `taskset` is missing or refuses.
pub fn pin_self(cpu: u32) -> bool {
    let pid = std::process::id().to_string();
    let moved = Command::new("taskset")
        .args(["-a", "-cp", &cpu.to_string(), &pid])
        .stdout(std::process::Stdio::null())
        .status();
    moved.is_ok_and(|s| s.success())
}

/// The first executable called `name` on `PATH`, then in the sbin directories (where
/// Debian puts nginx, and which a non-root `PATH` often lacks).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A started process, stopped (SIGTERM, then SIGKILL after a grace period) when dropped,
/// so an error anywhere in the bench still cleans up.
pub struct Guard {
    name: String,
    child: Child,
    done: bool,
}

impl Guard {
    pub fn spawn(name: &str, mut command: Command) -> Result<Guard, String> {
        let child = command.spawn().map_err(|e| format!("cannot start {name} ({:?}): {e}", command.get_program()))?;
        Ok(Guard { name: name.to_owned(), child, done: false })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }

    /// `Some(status)` once the process has exited (and is reaped).
    pub fn exited(&mut self) -> Result<Option<ExitStatus>, String> {
        let status = self.child.try_wait().map_err(|e| format!("cannot wait for {}: {e}", self.name))?;
        if status.is_some() {
            self.done = true;
        }
        Ok(status)
    }

    /// Waits for the process to exit by itself; past `deadline` it is stopped and that is an
    /// error. Polls: a waiting thread could not be told to give up.
    pub fn wait(&mut self, deadline: Duration) -> Result<ExitStatus, String> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.exited()? {
                return Ok(status);
            }
            if start.elapsed() > deadline {
                self.stop();
                return Err(format!("{} did not finish within {} s: stopped", self.name, deadline.as_secs()));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGTERM (a graceful stop: nginx's master then stops its workers), SIGKILL if it is
    /// still there after the grace period.
    pub fn stop(&mut self) {
        if self.done {
            return;
        }
        let _ = signal(self.pid(), "TERM");
        let start = Instant::now();
        while start.elapsed() < GRACE {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                self.done = true;
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("bench: {} ignored SIGTERM for {} s; killing it", self.name, GRACE.as_secs());
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.done = true;
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends `SIG<name>` to `pid` with the `kill` command (xtask has no libc binding).
pub fn signal(pid: u32, name: &str) -> Result<(), String> {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("cannot run kill: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("kill -{name} {pid} failed ({status})"))
    }
}

/// Reads `stdout` until a line starts with `prefix` and returns the rest of that line;
/// keeps draining the pipe afterwards (in the background) so the process never blocks on it.
pub fn await_line(stdout: impl Read + Send + 'static, prefix: &str, deadline: Duration) -> Result<String, String> {
    let (found, wanted) = mpsc::channel();
    let expected = prefix.to_owned();
    let prefix = prefix.to_owned();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if !sent {
                if let Some(rest) = line.strip_prefix(&prefix) {
                    let _ = found.send(rest.trim().to_owned());
                    sent = true;
                }
            }
        }
    });
    wanted.recv_timeout(deadline).map_err(|err| match err {
        mpsc::RecvTimeoutError::Timeout => format!("no line starting {expected:?} within {} s", deadline.as_secs()),
        mpsc::RecvTimeoutError::Disconnected => {
            "the process closed its output (exited?) before it was ready".to_owned()
        }
    })
}

/// The port of an `ADDR:PORT` a process printed.
pub fn port_of(addr: &str) -> Result<u16, String> {
    addr.rsplit_once(':').and_then(|(_, port)| port.parse().ok()).ok_or_else(|| format!("no port in {addr:?}"))
}
