//! The results of a run: JSON (every figure), Markdown (the tables BENCHMARKS.md quotes) and
//! SVG plots. Every figure is also shown as a ratio to nginx in the same repetition, since
//! absolute numbers drift on a shared machine; repetitions show as median (min–max).

use std::path::{Path, PathBuf};

use portcullis_loadgen::Protocol;

use super::measure::Measured;
use super::micro::Micro;
use super::noisy::NoisyRun;
use super::peers::Peer;
use super::plot::{grouped_bars, Bar, Chart, Group};
use super::scenario::{self, Scenario};
use crate::harness::json::Json;

pub struct Run {
    pub rep: u32,
    pub peer: Peer,
    pub scenario: Scenario,
    pub protocol: Protocol,
    pub size: u64,
    pub measured: Measured,
}

impl Run {
    pub fn progress_line(&self) -> String {
        let m = &self.measured;
        format!(
            "{:<13} {:<5} {:>7}  {:>8.0}/s  {:>7.1} µs CPU/req  p99 {:>6} µs  PSS {:>6.1} MiB  {:>5.0} origin conns/10k  \
             {} failed  other load {:.0}%",
            self.scenario.name(),
            protocol_name(self.protocol),
            size_name(self.size),
            m.rate(),
            m.cpu_us_per_request(),
            m.latency.p99,
            m.pss_kib as f64 / 1024.0,
            m.origin_connections_per_10k(),
            m.failures,
            m.other_cpu * 100.0
        )
    }
}

pub struct Results {
    pub command: String,
    pub smoke: bool,
    pub reps: u32,
    pub seconds: f64,
    pub setup: Vec<(&'static str, String)>,
    /// The peers that ran, in column order.
    pub peers: Vec<Peer>,
    /// The scenarios that ran, in report order.
    pub scenarios: Vec<Scenario>,
    /// False when `--skip-noisy` left the noisy neighbour out.
    pub noisy_ran: bool,
    pub runs: Vec<Run>,
    pub noisy: Vec<NoisyRun>,
    pub micro: Result<Vec<Micro>, String>,
    pub skipped: Vec<String>,
}

/// A figure of a run, for tables and plots.
type Metric = fn(&Measured) -> f64;

const CPU: Metric = Measured::cpu_us_per_request;
const RATE: Metric = Measured::rate;

fn p50(m: &Measured) -> f64 {
    m.latency.p50 as f64
}
fn p99(m: &Measured) -> f64 {
    m.latency.p99 as f64
}
fn p999(m: &Measured) -> f64 {
    m.latency.p999 as f64
}
fn pss_mib(m: &Measured) -> f64 {
    m.pss_kib as f64 / 1024.0
}

/// Median, lowest and highest of the repetitions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub low: f64,
    pub high: f64,
}

impl Spread {
    fn of(mut values: Vec<f64>) -> Option<Spread> {
        values.retain(|v| v.is_finite());
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let median = if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 };
        Some(Spread { median, low: values[0], high: values[n - 1] })
    }

    fn bar(self) -> Bar {
        Bar { value: self.median, low: self.low, high: self.high }
    }
}

impl Results {
    fn cell(&self, peer: Peer, scenario: Scenario, protocol: Protocol, size: u64) -> impl Iterator<Item = &Run> {
        self.runs
            .iter()
            .filter(move |r| r.peer == peer && r.scenario == scenario && r.protocol == protocol && r.size == size)
    }

    fn spread(&self, peer: Peer, scenario: Scenario, protocol: Protocol, size: u64, metric: Metric) -> Option<Spread> {
        Spread::of(self.cell(peer, scenario, protocol, size).map(|r| metric(&r.measured)).collect())
    }

    /// `metric` of `peer` over nginx's in the same repetition, across repetitions.
    fn ratio(&self, peer: Peer, scenario: Scenario, protocol: Protocol, size: u64, metric: Metric) -> Option<Spread> {
        let ratios = self
            .cell(peer, scenario, protocol, size)
            .filter_map(|run| {
                let nginx = self.cell(Peer::Nginx, scenario, protocol, size).find(|n| n.rep == run.rep)?;
                Some(metric(&run.measured) / metric(&nginx.measured))
            })
            .collect();
        Spread::of(ratios)
    }

    /// Writes `results.json`, `report.md` and `plots/*.svg` into `out`.
    pub fn write(&self, out: &Path) -> Result<Vec<PathBuf>, String> {
        let plots = out.join("plots");
        std::fs::create_dir_all(&plots).map_err(|e| format!("cannot create {}: {e}", plots.display()))?;
        let mut written = Vec::new();
        let mut save = |path: PathBuf, text: String| {
            std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            written.push(path);
            Ok::<_, String>(())
        };
        save(out.join("results.json"), self.json().render())?;
        save(out.join("report.md"), self.markdown())?;
        for (name, chart) in self.charts() {
            save(plots.join(format!("{name}.svg")), grouped_bars(&chart) + "\n")?;
        }
        Ok(written)
    }

    /// Fails unless every peer that ran has figures for every scenario, size and protocol
    /// from every repetition and nothing failed: what the smoke run checks.
    pub fn check_complete(&self) -> Result<(), String> {
        for &peer in &self.peers {
            for (scenario, protocol, size) in cells(&self.scenarios) {
                let runs: Vec<_> = self.cell(peer, scenario, protocol, size).collect();
                if runs.len() != self.reps as usize || runs.iter().any(|r| r.measured.requests == 0) {
                    return Err(format!(
                        "{} {} {}: {} {} runs with figures, expected {}",
                        scenario.name(),
                        protocol_name(protocol),
                        size_name(size),
                        runs.len(),
                        peer.name(),
                        self.reps
                    ));
                }
            }
        }
        if let Some(run) = self.runs.iter().find(|r| r.measured.failures > 0) {
            return Err(format!(
                "{} {} {} {} (repetition {}): {} requests failed, first: {}",
                run.peer.name(),
                run.scenario.name(),
                protocol_name(run.protocol),
                size_name(run.size),
                run.rep,
                run.measured.failures,
                run.measured.first_problem.as_deref().unwrap_or("?")
            ));
        }
        let portcullis_ran = self.peers.contains(&Peer::Portcullis);
        if self.noisy_ran && portcullis_ran && !self.noisy.iter().any(|n| n.setup.peer == Peer::Portcullis) {
            return Err("no noisy-neighbour figures for portcullis".to_owned());
        }
        Ok(())
    }

    fn json(&self) -> Json {
        let measured = |m: &Measured| {
            Json::Object(vec![
                ("requests", Json::Int(m.requests)),
                ("failures", Json::Int(m.failures)),
                ("first_problem", m.first_problem.as_ref().map_or(Json::Null, Json::str)),
                ("seconds", Json::Num(m.seconds)),
                ("requests_per_s", Json::Num(m.rate())),
                ("p50_us", Json::Int(m.latency.p50)),
                ("p99_us", Json::Int(m.latency.p99)),
                ("p999_us", Json::Int(m.latency.p999)),
                ("max_us", Json::Int(m.latency.max)),
                ("proxy_cpu_us", Json::Int(m.cpu_us)),
                ("proxy_cpu_us_per_request", Json::Num(m.cpu_us_per_request())),
                ("proxy_pss_kib", Json::Int(m.pss_kib)),
                ("origin_connections_opened", Json::Int(m.origin_connections)),
                ("origin_connections_per_10k", Json::Num(m.origin_connections_per_10k())),
                ("body_bytes", Json::Int(m.body_bytes)),
                ("other_load_cpus", Json::Num(m.other_cpu)),
            ])
        };
        let runs = self
            .runs
            .iter()
            .map(|r| {
                let ratio = |metric: Metric| {
                    self.cell(Peer::Nginx, r.scenario, r.protocol, r.size)
                        .find(|n| n.rep == r.rep)
                        .map_or(Json::Null, |n| Json::Num(metric(&r.measured) / metric(&n.measured)))
                };
                Json::Object(vec![
                    ("rep", Json::Int(u64::from(r.rep))),
                    ("peer", Json::str(r.peer.name())),
                    ("scenario", Json::str(r.scenario.name())),
                    ("protocol", Json::str(protocol_name(r.protocol))),
                    ("body_bytes", Json::Int(r.size)),
                    ("measured", measured(&r.measured)),
                    ("cpu_per_request_vs_nginx", ratio(CPU)),
                    ("requests_per_s_vs_nginx", ratio(RATE)),
                    ("p99_vs_nginx", ratio(p99)),
                    ("pss_vs_nginx", ratio(pss_mib)),
                ])
            })
            .collect();
        let noisy = self
            .noisy
            .iter()
            .map(|n| {
                Json::Object(vec![
                    ("rep", Json::Int(u64::from(n.rep))),
                    ("setup", Json::str(n.setup.label)),
                    ("alone", measured(&n.alone)),
                    ("neighbours", measured(&n.neighbours)),
                    ("p99_ratio", Json::Num(p99(&n.neighbours) / p99(&n.alone))),
                ])
            })
            .collect();
        let micro = match &self.micro {
            Ok(found) => Json::Array(
                found
                    .iter()
                    .map(|m| Json::Object(vec![("id", Json::str(&m.id)), ("median_ns", Json::Num(m.median_ns))]))
                    .collect(),
            ),
            Err(why) => Json::str(why),
        };
        Json::Object(vec![
            ("command", Json::str(&self.command)),
            ("smoke", Json::Bool(self.smoke)),
            ("reps", Json::Int(u64::from(self.reps))),
            ("seconds_per_run", Json::Num(self.seconds)),
            ("setup", Json::Object(self.setup.iter().map(|(k, v)| (*k, Json::str(v))).collect())),
            ("peers", Json::Array(self.peers.iter().map(|p| Json::str(p.name())).collect())),
            ("skipped", Json::Array(self.skipped.iter().map(Json::str).collect())),
            ("runs", Json::Array(runs)),
            ("noisy_neighbour", Json::Array(noisy)),
            ("micro_benchmarks", micro),
        ])
    }

    /// The headline table: CPU per request of every peer over nginx's.
    pub fn summary_markdown(&self) -> String {
        let mut out = String::new();
        let has_nginx = self.peers.contains(&Peer::Nginx);
        out.push_str(if has_nginx {
            "Proxy CPU per request ÷ nginx's, same repetition (median, min–max over repetitions):\n\n"
        } else {
            "Proxy CPU µs per request (no nginx in this run, so no ratios; median, min–max):\n\n"
        });
        out.push_str("| scenario | protocol | body |");
        for peer in &self.peers {
            out.push_str(&format!(" {} |", peer.name()));
        }
        out.push_str("\n|---|---|---:|");
        out.push_str(&"---:|".repeat(self.peers.len()));
        out.push('\n');
        for (scenario, protocol, size) in cells(&self.scenarios) {
            out.push_str(&format!("| {} | {} | {} |", scenario.name(), protocol_name(protocol), size_name(size)));
            for &peer in &self.peers {
                let spread = if has_nginx {
                    self.ratio(peer, scenario, protocol, size, CPU).map(ratio_text)
                } else {
                    self.spread(peer, scenario, protocol, size, CPU).map(|s| spread_text(s, 1))
                };
                out.push_str(&format!(" {} |", spread.unwrap_or_else(|| "—".to_owned())));
            }
            out.push('\n');
        }
        out
    }

    pub fn markdown(&self) -> String {
        let mut out = format!("# Benchmark report\n\n`{}`", self.command);
        out.push_str(&format!(
            " — {} repetition(s), {} s per run{}.\n\n",
            self.reps,
            self.seconds,
            if self.smoke { ", **smoke run** (portcullis only, too short to compare)" } else { "" }
        ));
        for (key, value) in &self.setup {
            out.push_str(&format!("- {key}: {value}\n"));
        }
        for skipped in &self.skipped {
            out.push_str(&format!("- skipped: {skipped}\n"));
        }
        out.push_str("\n## Summary\n\n");
        out.push_str(&self.summary_markdown());
        out.push_str(
            "\n![CPU per request, HTTP/1.1](plots/cpu-h1.svg)\n![CPU per request, h2c](plots/cpu-h2.svg)\n\
             ![CPU ÷ nginx, HTTP/1.1](plots/cpu-ratio-h1.svg)\n![CPU ÷ nginx, h2c](plots/cpu-ratio-h2.svg)\n\
             ![p99, HTTP/1.1](plots/p99-h1.svg)\n![p99, h2c](plots/p99-h2.svg)\n![memory](plots/memory.svg)\n\
             ![noisy neighbour](plots/noisy.svg)\n",
        );
        out.push_str(&self.detail_markdown());
        out.push_str(&self.noisy_markdown());
        out.push_str(&self.micro_markdown());
        out
    }

    /// Every figure, a table per scenario and protocol.
    fn detail_markdown(&self) -> String {
        let mut out = String::from(
            "\n## All figures\n\nMedian of the repetitions; CPU and its ratio with (min–max). Latency from send to \
             the last body byte, closed loop. PSS after the run. Origin connections: TCP connections the host \
             opened beyond the load generator's, per 10 000 requests.\n",
        );
        for &scenario in &self.scenarios {
            for protocol in [Protocol::Http1, Protocol::H2c] {
                out.push_str(&format!("\n### {} over {}\n\n", scenario.name(), protocol_name(protocol)));
                out.push_str(
                    "| body | peer | req/s | p50 µs | p99 µs | p99.9 µs | CPU µs/req | CPU ÷ nginx | PSS MiB | \
                     origin conns /10k | failed |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
                );
                for size in scenario::SIZES {
                    for &peer in &self.peers {
                        let get = |metric: Metric| self.spread(peer, scenario, protocol, size, metric);
                        let Some(cpu) = get(CPU) else { continue };
                        let median = |metric: Metric, decimals: usize| {
                            get(metric).map_or("—".to_owned(), |s| format!("{:.*}", decimals, s.median))
                        };
                        let failed: u64 = self.cell(peer, scenario, protocol, size).map(|r| r.measured.failures).sum();
                        out.push_str(&format!(
                            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {failed} |\n",
                            size_name(size),
                            peer.name(),
                            median(RATE, 0),
                            median(p50, 0),
                            median(p99, 0),
                            median(p999, 0),
                            spread_text(cpu, 1),
                            self.ratio(peer, scenario, protocol, size, CPU).map_or("—".to_owned(), ratio_text),
                            median(pss_mib, 1),
                            median(Measured::origin_connections_per_10k, 1),
                        ));
                    }
                }
            }
        }
        out
    }

    fn noisy_markdown(&self) -> String {
        let mut out = format!(
            "\n## Noisy neighbour\n\nLight requests (`GET /bytes/100`) at {}/s, open loop, alone and next to {}/s \
             requests that burn 5 ms of CPU each; one worker. Median (min–max) over repetitions, µs.\n\n\
             | setup | p50 alone | p99 alone | p50 with | p99 with | p99.9 with | p99 with ÷ alone |\n\
             |---|---:|---:|---:|---:|---:|---:|\n",
            super::noisy::LIGHT_RATE,
            super::noisy::SLOW_RATE
        );
        for label in self.noisy_labels() {
            let runs: Vec<&NoisyRun> = self.noisy.iter().filter(|n| n.setup.label == label).collect();
            let of = |f: &dyn Fn(&NoisyRun) -> f64| Spread::of(runs.iter().map(|n| f(n)).collect());
            let text = |s: Option<Spread>| s.map_or("—".to_owned(), |s| spread_text(s, 0));
            out.push_str(&format!(
                "| {label} | {} | {} | {} | {} | {} | {} |\n",
                text(of(&|n| p50(&n.alone))),
                text(of(&|n| p99(&n.alone))),
                text(of(&|n| p50(&n.neighbours))),
                text(of(&|n| p99(&n.neighbours))),
                text(of(&|n| p999(&n.neighbours))),
                of(&|n| p99(&n.neighbours) / p99(&n.alone)).map_or("—".to_owned(), ratio_text),
            ));
        }
        out
    }

    /// The noisy-neighbour setups that ran, each once, in the order they first ran.
    fn noisy_labels(&self) -> Vec<&'static str> {
        let mut labels = Vec::new();
        for run in &self.noisy {
            if !labels.contains(&run.setup.label) {
                labels.push(run.setup.label);
            }
        }
        labels
    }

    fn micro_markdown(&self) -> String {
        let mut out = String::from("\n## Micro-benchmarks (criterion, median per iteration)\n\n");
        match &self.micro {
            Ok(found) => {
                out.push_str("| benchmark | median |\n|---|---:|\n");
                for micro in found {
                    out.push_str(&format!("| `{}` | {} |\n", micro.id, nanos_text(micro.median_ns)));
                }
            }
            Err(why) => out.push_str(&format!("Not collected: {why}.\n")),
        }
        out
    }

    fn charts(&self) -> Vec<(String, Chart)> {
        let series: Vec<String> = self.peers.iter().map(|p| p.name().to_owned()).collect();
        let mut charts = Vec::new();
        for protocol in [Protocol::Http1, Protocol::H2c] {
            let tag = if protocol == Protocol::Http1 { "h1" } else { "h2" };
            let groups = |value: &dyn Fn(Peer, Scenario, u64) -> Option<Spread>| {
                cells(&self.scenarios)
                    .filter(|(_, p, _)| *p == protocol)
                    .map(|(scenario, _, size)| Group {
                        label: format!("{} {}", scenario.name(), size_name(size)),
                        bars: self.peers.iter().map(|&peer| value(peer, scenario, size).map(Spread::bar)).collect(),
                    })
                    .collect::<Vec<_>>()
            };
            let chart = |title: String, y_label: &str, groups, reference, log_scale| Chart {
                title,
                y_label: y_label.to_owned(),
                series: series.clone(),
                groups,
                reference,
                log_scale,
            };
            let name = protocol_name(protocol);
            charts.push((
                format!("cpu-{tag}"),
                chart(
                    format!("Proxy CPU per request, {name}"),
                    "µs per request (lower is better)",
                    groups(&|peer, scenario, size| self.spread(peer, scenario, protocol, size, CPU)),
                    None,
                    true,
                ),
            ));
            charts.push((
                format!("cpu-ratio-{tag}"),
                chart(
                    format!("Proxy CPU per request ÷ nginx's, {name}"),
                    "ratio to nginx (lower is better)",
                    groups(&|peer, scenario, size| self.ratio(peer, scenario, protocol, size, CPU)),
                    Some((1.0, "nginx".to_owned())),
                    false,
                ),
            ));
            charts.push((
                format!("p99-{tag}"),
                chart(
                    format!("p99 latency, {name}, closed loop"),
                    "µs (lower is better)",
                    groups(&|peer, scenario, size| self.spread(peer, scenario, protocol, size, p99)),
                    None,
                    true,
                ),
            ));
        }
        let memory = self
            .scenarios
            .iter()
            .map(|&scenario| Group {
                label: scenario.name().to_owned(),
                bars: self
                    .peers
                    .iter()
                    .map(|&peer| {
                        // The most the peer held during the scenario's runs, per repetition.
                        let per_rep = (1..=self.reps)
                            .filter_map(|rep| {
                                self.runs
                                    .iter()
                                    .filter(|r| r.peer == peer && r.scenario == scenario && r.rep == rep)
                                    .map(|r| pss_mib(&r.measured))
                                    .reduce(f64::max)
                            })
                            .collect();
                        Spread::of(per_rep).map(Spread::bar)
                    })
                    .collect(),
            })
            .collect();
        charts.push((
            "memory".to_owned(),
            Chart {
                title: "Proxy memory (PSS), largest after any run of the scenario".to_owned(),
                y_label: "MiB (lower is better)".to_owned(),
                series,
                groups: memory,
                reference: None,
                log_scale: false,
            },
        ));
        let noisy = self
            .noisy_labels()
            .into_iter()
            .map(|label| {
                let runs: Vec<&NoisyRun> = self.noisy.iter().filter(|n| n.setup.label == label).collect();
                Group {
                    label: label.to_owned(),
                    bars: vec![
                        Spread::of(runs.iter().map(|n| p99(&n.alone)).collect()).map(Spread::bar),
                        Spread::of(runs.iter().map(|n| p99(&n.neighbours)).collect()).map(Spread::bar),
                    ],
                }
            })
            .collect();
        charts.push((
            "noisy".to_owned(),
            Chart {
                title: "Noisy neighbour: p99 of light requests".to_owned(),
                y_label: "µs (lower is better)".to_owned(),
                series: vec!["alone".to_owned(), "next to 5 ms requests".to_owned()],
                groups: noisy,
                reference: None,
                log_scale: true,
            },
        ));
        charts
    }
}

/// Every scenario × protocol × size, in report order.
fn cells(scenarios: &[Scenario]) -> impl Iterator<Item = (Scenario, Protocol, u64)> + '_ {
    scenarios.iter().flat_map(|&scenario| {
        [Protocol::Http1, Protocol::H2c]
            .into_iter()
            .flat_map(move |protocol| scenario::SIZES.into_iter().map(move |size| (scenario, protocol, size)))
    })
}

pub fn protocol_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Http1 => "HTTP/1.1",
        Protocol::H2c => "h2c",
    }
}

pub fn size_name(size: u64) -> String {
    match size {
        s if s >= 1 << 20 && s % (1 << 20) == 0 => format!("{} MiB", s >> 20),
        s if s >= 1 << 10 && s % (1 << 10) == 0 => format!("{} KiB", s >> 10),
        s => format!("{s} B"),
    }
}

fn spread_text(s: Spread, decimals: usize) -> String {
    if s.low == s.high {
        format!("{:.*}", decimals, s.median)
    } else {
        format!("{:.*} ({:.*}–{:.*})", decimals, s.median, decimals, s.low, decimals, s.high)
    }
}

fn ratio_text(s: Spread) -> String {
    if s.low == s.high {
        format!("{:.2}×", s.median)
    } else {
        format!("{:.2}× ({:.2}–{:.2})", s.median, s.low, s.high)
    }
}

fn nanos_text(ns: f64) -> String {
    if ns >= 1_000_000.0 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1_000.0 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_take_the_median_and_extremes() {
        assert_eq!(Spread::of(vec![3.0, 1.0, 2.0]), Some(Spread { median: 2.0, low: 1.0, high: 3.0 }));
        assert_eq!(Spread::of(vec![4.0, 1.0]).map(|s| s.median), Some(2.5));
        assert_eq!(Spread::of(vec![f64::NAN]), None);
    }

    #[test]
    fn names_sizes_and_ratios_for_people() {
        assert_eq!(size_name(100), "100 B");
        assert_eq!(size_name(16 * 1024), "16 KiB");
        assert_eq!(size_name(1 << 20), "1 MiB");
        assert_eq!(ratio_text(Spread { median: 1.234, low: 1.1, high: 1.5 }), "1.23× (1.10–1.50)");
        assert_eq!(nanos_text(552.2), "552 ns");
        assert_eq!(nanos_text(9_902.0), "9.90 µs");
    }
}
