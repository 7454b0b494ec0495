//! The portcullis side: the release binary, the demo origin it includes (the origin both
//! proxies forward to), and the gateway itself with a minimal TLS config.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::peer::{Launch, Peer};
use crate::harness::build;
use crate::harness::process::{self, Guard};
use crate::harness::running::Running;
use crate::harness::template::{fill, log_file};

/// How long a process gets to print that it listens.
const START: Duration = Duration::from_secs(30);

/// `cargo build --release -p portcullis`.
pub fn build() -> Result<PathBuf, String> {
    build::cargo_build(&["--release", "--package", "portcullis"], "portcullis")
}

/// `portcullis --version`.
pub fn version(binary: &Path) -> String {
    Command::new(binary)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|e| format!("unknown ({e})"))
}

/// `benches/h2-tls/portcullis.toml`, next to nginx's twin so the two are reviewed together.
const TEMPLATE: &str = include_str!("../../../benches/h2-tls/portcullis.toml");

/// `portcullis run` with one worker thread, a TLS listener on a free port (its port read
/// from the line `run` prints), no access log, one upstream (the origin) on route `/`.
/// Everything else keeps its default (`[forwarding]` adds X-Forwarded-For/-Proto and Via).
pub fn start(binary: &Path, launch: &Launch<'_>) -> Result<Running, String> {
    let Launch { dir, cert, origin, cpu, pool } = *launch;
    let config = dir.join("portcullis.toml");
    let text = fill(
        TEMPLATE,
        &[
            ("cert", cert.cert.display().to_string()),
            ("key", cert.key.display().to_string()),
            ("pool", pool.to_string()),
            ("origin", origin.to_string()),
        ],
    )?;
    std::fs::write(&config, text).map_err(|e| format!("cannot write {}: {e}", config.display()))?;
    let mut command = process::pinned(binary, cpu);
    command
        .arg("run")
        .arg("--config")
        .arg(&config)
        .env("PORTCULLIS_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file(dir, "portcullis.err")?);
    let mut gateway = Guard::spawn("portcullis", command)?;
    let stdout = gateway.stdout().ok_or("portcullis's stdout was not captured")?;
    let addr = process::await_line(stdout, "portcullis listening on https://", START)
        .map_err(|e| format!("portcullis did not start: {e} (see {})", dir.join("portcullis.err").display()))?;
    let port = process::port_of(&addr)?;
    Ok(Running::new(Peer::Portcullis.name(), port, port, gateway, Vec::new()))
}

#[cfg(test)]
mod tests {
    use crate::harness::template::fill;

    fn values() -> Vec<(&'static str, String)> {
        ["dir", "origin", "pool", "port", "cert", "key"].iter().map(|n| (*n, format!("<{n}>"))).collect()
    }

    #[test]
    fn both_templates_fill_completely() {
        let nginx = fill(super::super::nginx::TEMPLATE, &values()).expect("nginx.conf fills");
        assert!(nginx.contains("keepalive <pool>;") && nginx.contains("listen 127.0.0.1:<port> ssl http2;"));
        let ours = fill(super::TEMPLATE, &values()).expect("portcullis.toml fills");
        assert!(ours.contains("max_idle_per_key = <pool>") && ours.contains("endpoints = [\"127.0.0.1:<origin>\"]"));
    }

    #[test]
    fn a_left_over_placeholder_is_an_error() {
        assert!(fill("a {{b}} c", &[]).is_err());
    }
}
