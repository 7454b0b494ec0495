//! The results: every run as JSON (`results.json`) and the tables for BENCHMARKS.md
//! (`table.md`), each portcullis figure next to nginx's from the same repetition and the
//! ratio between them.

use super::peer::Peer;
use super::scenario::Measurement;
use crate::harness::json::Json;

/// Share of a CPU used by other processes during a run above which the run is flagged.
const DISTURBED: f64 = 0.05;

pub struct Run {
    /// 1-based repetition; peers alternate their order between repetitions.
    pub rep: u32,
    pub peer: Peer,
    pub scenario: &'static str,
    pub measured: Measurement,
}

/// CPU a peer burns with nothing to do (timers, tickers), measured after its warm-up.
pub struct Idle {
    pub rep: u32,
    pub peer: Peer,
    pub cpu_us_per_s: f64,
}

pub struct Results {
    /// The command line that produced them.
    pub command: String,
    pub smoke: bool,
    pub reps: u32,
    /// Ordered facts about the set-up (versions, topology, certificate).
    pub setup: Vec<(&'static str, String)>,
    /// Scenario name and its h2load command line.
    pub scenarios: Vec<(&'static str, String)>,
    pub runs: Vec<Run>,
    pub idle: Vec<Idle>,
    /// Why a peer did not run, when it did not.
    pub skipped: Vec<String>,
}

/// A column of a table: a figure of a measurement and how to print it.
struct Column {
    title: &'static str,
    value: fn(&Measurement) -> Option<f64>,
    format: fn(f64) -> String,
}

impl Results {
    fn run(&self, rep: u32, peer: Peer, scenario: &str) -> Option<&Run> {
        self.runs.iter().find(|r| r.rep == rep && r.peer == peer && r.scenario == scenario)
    }

    /// portcullis's figure over nginx's, same repetition and scenario.
    fn ratio(&self, run: &Run, value: fn(&Measurement) -> Option<f64>) -> Option<f64> {
        let base = self.run(run.rep, Peer::Nginx, run.scenario)?;
        Some(value(&run.measured)? / value(&base.measured)?).filter(|x| x.is_finite())
    }

    pub fn json(&self) -> String {
        let setup = self.setup.iter().map(|(k, v)| (*k, Json::str(v))).collect();
        let scenarios = self
            .scenarios
            .iter()
            .map(|(name, command)| Json::Object(vec![("name", Json::str(*name)), ("h2load", Json::str(command))]))
            .collect();
        let idle = self
            .idle
            .iter()
            .map(|i| {
                Json::Object(vec![
                    ("rep", Json::Int(u64::from(i.rep))),
                    ("peer", Json::str(i.peer.name())),
                    ("cpu_us_per_s", Json::Num(i.cpu_us_per_s)),
                ])
            })
            .collect();
        let runs = self.runs.iter().map(|run| self.run_json(run)).collect();
        Json::Object(vec![
            ("command", Json::str(&self.command)),
            ("smoke", Json::Bool(self.smoke)),
            ("reps", Json::Int(u64::from(self.reps))),
            ("setup", Json::Object(setup)),
            ("skipped", Json::Array(self.skipped.iter().map(Json::str).collect())),
            ("scenarios", Json::Array(scenarios)),
            ("idle", Json::Array(idle)),
            ("runs", Json::Array(runs)),
        ])
        .render()
    }

    fn run_json(&self, run: &Run) -> Json {
        let m = &run.measured;
        let latency = match m.latency {
            Some(p) => Json::Object(vec![
                ("p50", Json::Int(p.p50)),
                ("p99", Json::Int(p.p99)),
                ("p99_9", Json::Int(p.p999)),
                ("max", Json::Int(p.max)),
            ]),
            None => Json::Null,
        };
        let ratio = |value: fn(&Measurement) -> Option<f64>| self.ratio(run, value).map_or(Json::Null, Json::Num);
        let vs_nginx = if run.peer == Peer::Nginx || self.run(run.rep, Peer::Nginx, run.scenario).is_none() {
            Json::Null
        } else {
            Json::Object(vec![
                ("rate", ratio(rate)),
                ("cpu_us_per_request", ratio(cpu)),
                ("p50", ratio(|m| m.latency.map(|p| p.p50 as f64))),
                ("p99", ratio(|m| m.latency.map(|p| p.p99 as f64))),
                ("p99_9", ratio(|m| m.latency.map(|p| p.p999 as f64))),
            ])
        };
        let tls = &m.tls;
        Json::Object(vec![
            ("rep", Json::Int(u64::from(run.rep))),
            ("peer", Json::str(run.peer.name())),
            ("scenario", Json::str(run.scenario)),
            ("requests_2xx", Json::Int(m.requests)),
            ("failures", Json::Int(m.failures)),
            ("tls_connections", Json::Int(m.connections)),
            ("seconds", Json::Num(m.seconds)),
            ("rate_per_s", Json::Num(m.rate())),
            ("proxy_cpu_us", Json::Int(m.cpu_us)),
            ("proxy_cpu_us_per_request", Json::Num(m.cpu_us_per_request())),
            ("proxy_core_busy", Json::Num(busy(m).unwrap_or_default())),
            ("latency_us", latency),
            ("bytes_received_per_request", Json::Num(m.bytes_per_request)),
            ("upstream_connections_opened", Json::Int(m.upstream_connections)),
            ("other_processes_cpu_cores", Json::Num(m.other_cpu)),
            (
                "tls",
                Json::Object(vec![
                    ("protocol", Json::str(&tls.protocol)),
                    ("cipher", Json::str(&tls.cipher)),
                    ("key_exchange", Json::str(&tls.temp_key)),
                    ("alpn", Json::str(&tls.alpn)),
                ]),
            ),
            ("vs_nginx", vs_nginx),
        ])
    }

    pub fn markdown(&self) -> String {
        let keepalive = [
            Column { title: "req/s", value: rate, format: grouped },
            Column { title: "p50 µs", value: |m| m.latency.map(|p| p.p50 as f64), format: grouped },
            Column { title: "p99 µs", value: |m| m.latency.map(|p| p.p99 as f64), format: grouped },
            Column { title: "p99.9 µs", value: |m| m.latency.map(|p| p.p999 as f64), format: grouped },
            Column { title: "proxy CPU µs/req", value: cpu, format: fine },
            Column { title: "proxy core busy", value: busy, format: percent },
            Column { title: "bytes/resp", value: |m| Some(m.bytes_per_request), format: grouped },
            Column { title: "origin conns opened", value: |m| Some(m.upstream_connections as f64), format: grouped },
        ];
        let handshakes = [
            Column { title: "handshakes/s", value: rate, format: grouped },
            Column { title: "proxy CPU µs per handshake+request", value: cpu, format: fine },
            Column { title: "proxy core busy", value: busy, format: percent },
        ];
        let mut out = String::new();
        self.table(&mut out, &["h2-keepalive", "h1-keepalive"], &keepalive);
        out.push('\n');
        self.table(&mut out, &["tls-handshake", "tls-handshake-h1"], &handshakes);
        let idle: Vec<String> = [Peer::Nginx, Peer::Portcullis]
            .iter()
            .filter_map(|&peer| {
                let values: Vec<String> =
                    self.idle.iter().filter(|i| i.peer == peer).map(|i| grouped(i.cpu_us_per_s)).collect();
                (!values.is_empty()).then(|| format!("{} {}", peer.name(), values.join(" / ")))
            })
            .collect();
        out.push_str(&format!("\nIdle CPU, µs per second: {}.\n", idle.join(", ")));
        out.push_str(&format!("\nNegotiated: {}.\n", self.negotiated().join("; ")));
        let failed: Vec<String> = self
            .runs
            .iter()
            .filter(|r| r.measured.failures > 0)
            .map(|r| format!("{} {} run {}: {} failed", r.scenario, r.peer.name(), r.rep, r.measured.failures))
            .collect();
        let disturbed: Vec<String> = self
            .runs
            .iter()
            .filter(|r| r.measured.other_cpu > DISTURBED)
            .map(|r| format!("{} {} run {}: {:.0}%", r.scenario, r.peer.name(), r.rep, r.measured.other_cpu * 100.0))
            .collect();
        if !disturbed.is_empty() {
            out.push_str(&format!(
                "\n**Disturbed runs** (other processes used more than {:.0}% of a CPU meanwhile): {}.\n",
                DISTURBED * 100.0,
                disturbed.join("; ")
            ));
        }
        if !failed.is_empty() {
            out.push_str(&format!("\n**Failed requests**: {}.\n", failed.join("; ")));
        }
        for skipped in &self.skipped {
            out.push_str(&format!("\n**Skipped**: {skipped}\n"));
        }
        out
    }

    /// Each distinct TLS protocol, cipher and key exchange seen, with its peer: they must
    /// match between peers for the comparison to hold.
    fn negotiated(&self) -> Vec<String> {
        let mut seen: Vec<String> = Vec::new();
        for run in &self.runs {
            let tls = &run.measured.tls;
            let line = format!("{} {} {} {}", run.peer.name(), tls.protocol, tls.cipher, tls.temp_key);
            if !seen.contains(&line) {
                seen.push(line);
            }
        }
        seen
    }

    /// One row per peer and scenario with the repetitions' figures as `a / b`, then the
    /// ratio row.
    fn table(&self, out: &mut String, scenarios: &[&str], columns: &[Column]) {
        out.push_str("| scenario | peer |");
        for column in columns {
            out.push_str(&format!(" {} |", column.title));
        }
        out.push_str("\n|---|---|");
        out.push_str(&"---:|".repeat(columns.len()));
        out.push('\n');
        for &scenario in scenarios {
            let mut first = true;
            for peer in [Peer::Nginx, Peer::Portcullis] {
                let runs: Vec<&Run> = (1..=self.reps).filter_map(|rep| self.run(rep, peer, scenario)).collect();
                if runs.is_empty() {
                    continue;
                }
                let label = if peer == Peer::Nginx { "nginx (baseline)" } else { peer.name() };
                out.push_str(&format!("| {} | {label} |", if first { scenario } else { "" }));
                first = false;
                for column in columns {
                    let cells: Vec<String> = runs
                        .iter()
                        .map(|r| (column.value)(&r.measured).map_or("—".to_owned(), column.format))
                        .collect();
                    out.push_str(&format!(" {} |", cells.join(" / ")));
                }
                out.push('\n');
            }
            let ours: Vec<&Run> = (1..=self.reps).filter_map(|rep| self.run(rep, Peer::Portcullis, scenario)).collect();
            if ours.iter().any(|r| self.run(r.rep, Peer::Nginx, scenario).is_some()) {
                out.push_str("| | **portcullis ÷ nginx** |");
                for column in columns {
                    let cells: Vec<String> = ours
                        .iter()
                        .map(|r| self.ratio(r, column.value).map_or("—".to_owned(), |x| format!("{x:.2}×")))
                        .collect();
                    out.push_str(&format!(" {} |", cells.join(" / ")));
                }
                out.push('\n');
            }
        }
    }
}

fn rate(m: &Measurement) -> Option<f64> {
    Some(m.rate())
}

fn cpu(m: &Measurement) -> Option<f64> {
    Some(m.cpu_us_per_request())
}

/// Share of its core the proxy used during the run: near 100% it, not the load side, set
/// the pace.
fn busy(m: &Measurement) -> Option<f64> {
    Some(m.rate() * m.cpu_us_per_request() / 1e6)
}

fn percent(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// A whole number with its thousands separated by spaces, as elsewhere in BENCHMARKS.md.
fn grouped(x: f64) -> String {
    let digits = (x.round() as u64).to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// Small CPU figures keep a decimal (they are tens of µs).
fn fine(x: f64) -> String {
    if x < 100.0 {
        format!("{x:.1}")
    } else {
        grouped(x)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn groups_thousands() {
        assert_eq!(super::grouped(1_234_567.4), "1 234 567");
        assert_eq!(super::grouped(999.0), "999");
        assert_eq!(super::fine(38.24), "38.2");
        assert_eq!(super::fine(1234.0), "1 234");
    }
}
