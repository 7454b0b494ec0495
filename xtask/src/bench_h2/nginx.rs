//! The nginx side: a config of its own in the bench's temp dir (prefix, pid, logs, temp
//! paths), equivalent to portcullis's: one worker, a TLS + HTTP/2 listener with the same
//! certificate, `proxy_pass` to the same origin over a keepalive pool, no access log.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::peer::{Launch, Peer};
use crate::harness::cpu;
use crate::harness::process::{self, Guard};
use crate::harness::running::Running;
use crate::harness::template::{fill, log_file};

const START: Duration = Duration::from_secs(15);

pub fn find() -> Option<PathBuf> {
    process::find_program("nginx")
}

/// `nginx -V`'s version line and the OpenSSL it runs with (both on stderr).
pub fn version(nginx: &Path) -> String {
    let Ok(output) = Command::new(nginx).arg("-V").output() else { return "unknown".to_owned() };
    let text = String::from_utf8_lossy(&output.stderr);
    let wanted = |line: &&str| line.starts_with("nginx version") || line.starts_with("built with");
    text.lines().filter(wanted).map(str::trim).collect::<Vec<_>>().join("; ")
}

/// `benches/h2-tls/nginx.conf`, next to portcullis's twin so the two are reviewed together.
pub(super) const TEMPLATE: &str = include_str!("../../../benches/h2-tls/nginx.conf");

fn config(launch: &Launch<'_>, port: u16) -> Result<String, String> {
    fill(
        TEMPLATE,
        &[
            ("dir", launch.dir.display().to_string()),
            ("origin", launch.origin.to_string()),
            ("pool", launch.pool.to_string()),
            ("port", port.to_string()),
            ("cert", launch.cert.cert.display().to_string()),
            ("key", launch.cert.key.display().to_string()),
        ],
    )
}

/// Starts nginx in the foreground (`daemon off`, so it is our child and its PID is the
/// master's), pinned to `cpu`; ready once its port accepts connections and its worker runs.
pub fn start(nginx: &Path, launch: &Launch<'_>) -> Result<Running, String> {
    let dir = launch.dir;
    let port = free_port()?;
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, config(launch, port)?).map_err(|e| format!("cannot write {}: {e}", conf.display()))?;
    let mut command = process::pinned(nginx, launch.cpu);
    // -e: the startup error log, before the config's own replaces the default path.
    command
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&conf)
        .arg("-e")
        .arg(dir.join("nginx-error.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file(dir, "nginx.err")?);
    let mut master = Guard::spawn("nginx", command)?;
    let errors = || format!("see {} and {}", dir.join("nginx.err").display(), dir.join("nginx-error.log").display());
    let start = Instant::now();
    loop {
        if let Some(status) = master.exited()? {
            return Err(format!("nginx exited at start ({status}); {}", errors()));
        }
        let workers = cpu::children(master.pid());
        let listening = TcpStream::connect(("127.0.0.1", port)).is_ok();
        if listening && !workers.is_empty() {
            return Ok(Running::new(Peer::Nginx.name(), port, port, master, workers));
        }
        if start.elapsed() > START {
            return Err(format!("nginx did not listen on 127.0.0.1:{port} within {} s; {}", START.as_secs(), errors()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A port nothing listens on right now (the kernel's pick, released at once).
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot bind 127.0.0.1:0: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| format!("no local address: {e}"))
}
