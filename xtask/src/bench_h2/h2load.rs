//! Driving h2load (nghttp2's load generator) and reading what it reports: its summary on
//! stdout, and with `--log-file` one line per request with its duration in µs, from which
//! the latency percentiles come (h2load itself prints only min/max/mean/sd).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::process::Guard;

/// One h2load invocation against `https://localhost:PORT/`, connecting to 127.0.0.1 only
/// (`--connect-to`): the name still goes out as SNI and `:authority`, as from a browser.
pub struct Load<'a> {
    pub port: u16,
    pub requests: u64,
    pub clients: u64,
    /// Streams in flight per connection (h2), or 1 for HTTP/1.1 (no pipelining).
    pub streams: u32,
    pub h1: bool,
    pub log: Option<&'a Path>,
}

impl Load<'_> {
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![
            format!("--requests={}", self.requests),
            format!("--clients={}", self.clients),
            format!("--max-concurrent-streams={}", self.streams),
            "--threads=1".to_owned(),
            // A stuck connection fails its requests instead of hanging the run.
            "--connection-inactivity-timeout=10s".to_owned(),
            format!("--connect-to=127.0.0.1:{}", self.port),
        ];
        if self.h1 {
            args.push("--h1".to_owned());
        }
        if let Some(log) = self.log {
            args.push(format!("--log-file={}", log.display()));
        }
        args.push(format!("https://localhost:{}/", self.port));
        args
    }
}

/// What h2load printed about one invocation.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// h2load's own measure, first connect to last response: process start-up is not in it.
    pub seconds: f64,
    pub succeeded: u64,
    pub failed: u64,
    pub errored: u64,
    pub timeout: u64,
    pub status_2xx: u64,
    /// Bytes received, TLS records and framing included.
    pub traffic_bytes: u64,
    pub protocol: String,
    pub cipher: String,
    pub temp_key: String,
    pub alpn: String,
}

/// Runs h2load to completion (stopped, and an error, past `deadline`), its output kept in
/// `output` for when something goes wrong.
pub fn run(h2load: &Path, load: &Load<'_>, output: &Path, deadline: Duration) -> Result<Report, String> {
    let file = std::fs::File::create(output).map_err(|e| format!("cannot create {}: {e}", output.display()))?;
    let errors = file.try_clone().map_err(|e| format!("cannot share {}: {e}", output.display()))?;
    let mut command = Command::new(h2load);
    command.args(load.args()).stdin(Stdio::null()).stdout(file).stderr(errors);
    let status = Guard::spawn("h2load", command)?.wait(deadline)?;
    let text = std::fs::read_to_string(output).map_err(|e| format!("cannot read {}: {e}", output.display()))?;
    if !status.success() {
        return Err(format!("h2load failed ({status}): {}", tail(&text)));
    }
    parse(&text).map_err(|e| format!("{e} in h2load's output ({}): {}", output.display(), tail(&text)))
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(8)..].join(" | ")
}

fn parse(text: &str) -> Result<Report, String> {
    let mut report = Report::default();
    let mut seen_finish = false;
    let mut seen_requests = false;
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("finished in ") {
            let duration = rest.split(',').next().unwrap_or_default();
            report.seconds = seconds(duration).ok_or_else(|| format!("unreadable duration {duration:?}"))?;
            seen_finish = true;
        } else if let Some(rest) = line.strip_prefix("requests: ") {
            report.succeeded = counted(rest, "succeeded")?;
            report.failed = counted(rest, "failed")?;
            report.errored = counted(rest, "errored")?;
            report.timeout = counted(rest, "timeout")?;
            seen_requests = true;
        } else if let Some(rest) = line.strip_prefix("status codes: ") {
            report.status_2xx = counted(rest, "2xx")?;
        } else if let Some(rest) = line.strip_prefix("traffic: ") {
            let bytes = rest.split_once('(').and_then(|(_, r)| r.split_once(')')).map(|(n, _)| n);
            report.traffic_bytes =
                bytes.and_then(|n| n.parse().ok()).ok_or_else(|| format!("unreadable traffic line {line:?}"))?;
        } else if let Some(rest) = line.strip_prefix("TLS Protocol: ").or_else(|| line.strip_prefix("Protocol: ")) {
            report.protocol = rest.to_owned();
        } else if let Some(rest) = line.strip_prefix("Cipher: ") {
            report.cipher = rest.to_owned();
        } else if let Some(rest) = line.strip_prefix("Server Temp Key: ") {
            report.temp_key = rest.to_owned();
        } else if let Some(rest) = line.strip_prefix("Application protocol: ") {
            report.alpn = rest.to_owned();
        }
    }
    if !(seen_finish && seen_requests) {
        return Err("no `finished in` or `requests:` line".to_owned());
    }
    Ok(report)
}

/// `N word` in a comma-separated list such as `200 total, 200 started, 0 failed`.
fn counted(list: &str, word: &str) -> Result<u64, String> {
    list.split(',')
        .filter_map(|item| item.trim().split_once(' '))
        .find(|(_, w)| *w == word)
        .and_then(|(n, _)| n.parse().ok())
        .ok_or_else(|| format!("no count of {word:?} in {list:?}"))
}

/// h2load's durations: `7.38s`, `512.30ms`, `950us`.
fn seconds(text: &str) -> Option<f64> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix("us") {
        (n, 1e-6)
    } else {
        (text.strip_suffix('s')?, 1.0)
    };
    number.parse::<f64>().ok().map(|n| n * scale)
}

/// Latency percentiles in µs over every request of a `--log-file`.
#[derive(Clone, Copy, Debug)]
pub struct Percentiles {
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

/// Reads a `--log-file` (tab-separated: start time in µs since the epoch, status, µs until
/// the end of the response; status -1 for a failed stream, which h2load counts itself).
pub fn percentiles(log: &Path) -> Result<Percentiles, String> {
    let text = std::fs::read_to_string(log).map_err(|e| format!("cannot read {}: {e}", log.display()))?;
    let mut durations = Vec::with_capacity(text.len() / 24);
    for (number, line) in text.lines().enumerate() {
        let columns: Vec<&str> = line.split('\t').collect();
        let (Some(status), Some(micros)) = (columns.get(1), columns.get(2)) else {
            return Err(format!("{}:{}: expected 3 tab-separated columns", log.display(), number + 1));
        };
        if *status == "-1" {
            continue;
        }
        let micros = micros
            .trim()
            .parse::<u64>()
            .map_err(|e| format!("{}:{}: duration {micros:?}: {e}", log.display(), number + 1))?;
        durations.push(micros);
    }
    if durations.is_empty() {
        return Err(format!("{} lists no completed request", log.display()));
    }
    durations.sort_unstable();
    // Nearest rank: the smallest value with at least q of all values at or below it.
    let rank = |q: f64| durations[((q * durations.len() as f64).ceil() as usize).clamp(1, durations.len()) - 1];
    Ok(Percentiles { p50: rank(0.50), p99: rank(0.99), p999: rank(0.999), max: rank(1.0) })
}

/// `h2load --version`, e.g. `h2load nghttp2/1.52.0`.
pub fn version(h2load: &Path) -> String {
    Command::new(h2load)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|e| format!("unknown ({e})"))
}

/// Where the per-invocation files of a run go.
pub fn files(dir: &Path, tag: &str) -> (PathBuf, PathBuf) {
    (dir.join(format!("{tag}.out")), dir.join(format!("{tag}.log")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "starting benchmark...
spawning thread #0: 16 total client(s). 2000 total requests
TLS Protocol: TLSv1.3
Cipher: TLS_AES_128_GCM_SHA256
Server Temp Key: X25519 253 bits
Application protocol: h2
progress: 10% done

finished in 512.30ms, 3903.95 req/s, 4.20MB/s
requests: 2000 total, 2000 started, 2000 done, 1998 succeeded, 2 failed, 2 errored, 0 timeout
status codes: 1998 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 2.15MB (2254000) total, 26.21KB (26840) headers (space savings 93.02%), 2.10MB (2200000) data
";

    #[test]
    fn reads_the_summary() {
        let report = parse(OUTPUT).expect("the sample parses");
        assert!((report.seconds - 0.5123).abs() < 1e-9);
        assert_eq!((report.succeeded, report.failed, report.errored, report.timeout), (1998, 2, 2, 0));
        assert_eq!((report.status_2xx, report.traffic_bytes), (1998, 2_254_000));
        assert_eq!((report.protocol.as_str(), report.alpn.as_str()), ("TLSv1.3", "h2"));
        assert_eq!(report.temp_key, "X25519 253 bits");
    }

    #[test]
    fn durations_in_every_unit() {
        let close = |text: &str, expected: f64| seconds(text).is_some_and(|s| (s - expected).abs() < 1e-12);
        assert!(close("7.5s", 7.5));
        assert!(close("250.00ms", 0.25));
        assert!(close("10us", 1e-5));
        assert_eq!(seconds("fast"), None);
    }
}
