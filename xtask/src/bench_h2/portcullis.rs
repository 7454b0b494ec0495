//! The portcullis side: the release binary, the demo origin it includes (the origin both
//! proxies forward to), and the gateway itself with a minimal TLS config.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::peer::{Launch, Peer, Running};
use super::process::{self, Guard};

/// How long a process gets to print that it listens.
const START: Duration = Duration::from_secs(30);

/// `cargo build --release -p portcullis`; the binary's path comes from cargo's own report,
/// so `CARGO_TARGET_DIR` and config overrides are respected.
pub fn build() -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(&cargo)
        .args(["build", "--release", "--package", "portcullis", "--message-format=json-render-diagnostics"])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if !output.status.success() {
        return Err(format!("`cargo build --release -p portcullis` failed ({})", output.status));
    }
    // One JSON object per line; the binary's artifact names its `executable`.
    let key = "\"executable\":\"";
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.contains("\"reason\":\"compiler-artifact\""))
        .filter_map(|line| line.split_once(key).and_then(|(_, rest)| rest.split_once('"')).map(|(path, _)| path))
        .map(PathBuf::from)
        .find(|path| path.file_name().is_some_and(|name| name == "portcullis"))
        .ok_or_else(|| "cargo built portcullis but named no `portcullis` executable".to_owned())
}

/// `portcullis --version`.
pub fn version(binary: &Path) -> String {
    Command::new(binary)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|e| format!("unknown ({e})"))
}

/// The demo origin on a free port (it answers with the request head as JSON, ~1 KiB);
/// returns it with its port. It is a tokio runtime of its own, pinned to `cpu`.
pub fn start_origin(binary: &Path, dir: &Path, cpu: Option<u32>) -> Result<(Guard, u16), String> {
    let mut command = process::pinned(binary, cpu);
    command
        .args(["origin", "--listen", "127.0.0.1:0"])
        .env("PORTCULLIS_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file(dir, "origin.err")?);
    let mut origin = Guard::spawn("the demo origin", command)?;
    let stdout = origin.stdout().ok_or("the origin's stdout was not captured")?;
    let addr = process::await_line(stdout, "demo origin listening on http://", START)
        .map_err(|e| format!("the demo origin did not start: {e} (see {})", dir.join("origin.err").display()))?;
    Ok((origin, port_of(&addr)?))
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
    Ok(Running::new(Peer::Portcullis, port_of(&addr)?, gateway, Vec::new()))
}

fn port_of(addr: &str) -> Result<u16, String> {
    addr.rsplit_once(':').and_then(|(_, port)| port.parse().ok()).ok_or_else(|| format!("no port in {addr:?}"))
}

/// `template` with every `{{name}}` replaced by its value; an error if one is left over.
pub fn fill(template: &str, values: &[(&str, String)]) -> Result<String, String> {
    let mut text = template.to_owned();
    for (name, value) in values {
        text = text.replace(&format!("{{{{{name}}}}}"), value);
    }
    match text.find("{{") {
        Some(at) => Err(format!("config template: unfilled placeholder at {:?}", &text[at..(at + 20).min(text.len())])),
        None => Ok(text),
    }
}

/// A file in `dir` for a process's stderr, appended to across restarts.
pub fn log_file(dir: &Path, name: &str) -> Result<std::fs::File, String> {
    let path = dir.join(name);
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::fill;

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
