//! `cargo xtask bench-h2 [--smoke] [--reps N] [--pool N]`: portcullis against nginx end to end, over
//! TLS, with h2load: HTTP/2 (and HTTP/1.1) keep-alive throughput, latency percentiles and
//! the proxy's CPU per request, then the cost of a fresh TLS handshake.
//!
//! - Both proxies forward to the same demo origin (`portcullis origin`), present the same
//!   certificate, run one worker, and are pinned to CPU 0; origin, h2load and this process
//!   run on CPU 1. The proxy's CPU time (from `/proc`) per request is the fair comparison:
//!   with one core for load and origin, the load side saturates first.
//! - Each repetition starts each peer afresh, warms it up, and runs every scenario; the
//!   peers' order alternates between repetitions.
//! - Results: `target/bench-h2/results.json` and `target/bench-h2/table.md` (`results-smoke`,
//!   `results-poolN` for the variants).
//! - `--pool N`: idle origin connections each proxy keeps (default 32); with h2's 160
//!   streams in flight a small pool makes both proxies open origin connections constantly.
//! - `--smoke`: a few hundred requests per scenario against portcullis only, checking that
//!   the harness works end to end and writes its JSON.

mod cert;
mod h2load;
mod nginx;
mod peer;
mod portcullis;
mod report;
mod scenario;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::process;
use crate::harness::running::Running;
use crate::harness::system::{self, LOAD_CPU, PROXY_CPU};
use peer::Peer;
use report::{Idle, Results, Run};

struct Options {
    smoke: bool,
    reps: u32,
    /// Idle origin connections each proxy keeps; 32 is both defaults' order of magnitude.
    pool: u32,
}

/// Pool size unless `--pool` says otherwise: nginx's documented example and portcullis's
/// default `max_idle_per_key`.
const DEFAULT_POOL: u32 = 32;

fn options(args: &[String]) -> Result<Options, String> {
    let mut smoke = false;
    let mut reps = None;
    let mut pool = DEFAULT_POOL;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--smoke" => smoke = true,
            "--reps" => {
                let value = args.next().ok_or("--reps needs a number")?;
                reps = Some(value.parse().ok().filter(|&n| n >= 1).ok_or("--reps takes a whole number ≥ 1")?);
            }
            "--pool" => {
                let value = args.next().ok_or("--pool needs a number")?;
                pool = value.parse().ok().filter(|&n| n >= 1).ok_or("--pool takes a whole number ≥ 1")?;
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: cargo xtask bench-h2 [--smoke] [--reps N] [--pool N]"
                ))
            }
        }
    }
    // Three repetitions show the spread (handshake figures vary by ±15% between runs on the
    // 2-core VMs); a smoke run needs one.
    Ok(Options { smoke, reps: reps.unwrap_or(if smoke { 1 } else { 3 }), pool })
}

pub fn run(args: &[String]) -> Result<(), String> {
    let options = options(args)?;
    let h2load = process::find_program("h2load").ok_or(
        "h2load not found on PATH: install it with `apt-get install -y nghttp2-client`; without it nothing can be measured",
    )?;
    let mut skipped = Vec::new();
    let nginx = if options.smoke {
        skipped.push("nginx: not run by --smoke (portcullis only)".to_owned());
        None
    } else {
        let found = nginx::find();
        if found.is_none() {
            let why = "nginx not found on PATH or in /usr/sbin (`apt-get install -y nginx`): the nginx peer is \
                       skipped, so there is no baseline and no ratios";
            eprintln!("bench-h2: WARNING: {why}");
            skipped.push(why.to_owned());
        }
        found
    };

    let binary = portcullis::build()?;
    // Placed only now: the build above had both cores.
    let placement = system::place("bench-h2")?;
    let (cpus, ticks) = (placement.cpus, placement.ticks_per_second);
    let (proxy_cpu, load_cpu) = (placement.proxy_cpu, placement.load_cpu);

    let dir = std::env::temp_dir().join(format!("portcullis-bench-h2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let cert = cert::generate(&dir)?;
    let (origin, origin_port) = crate::harness::origin::start(&binary, &dir, "origin", load_cpu)?;
    let scenarios = scenario::all(options.smoke);
    let launch = peer::Launch { dir: &dir, cert: &cert, origin: origin_port, cpu: proxy_cpu, pool: options.pool };
    let bench = scenario::Bench { h2load: &h2load, dir: &dir, ticks_per_second: ticks, origin: origin.pid() };

    let mut peers = vec![Peer::Portcullis];
    if nginx.is_some() {
        peers.push(Peer::Nginx);
    }
    let mut runs = Vec::new();
    let mut idle = Vec::new();
    for rep in 1..=options.reps {
        let mut order = peers.clone();
        if rep % 2 == 0 {
            order.reverse();
        }
        for peer in order {
            println!("bench-h2: repetition {rep}/{}: {}", options.reps, peer.name());
            let mut running = match (peer, &nginx) {
                (Peer::Nginx, Some(nginx)) => nginx::start(nginx, &launch)?,
                _ => portcullis::start(&binary, &launch)?,
            };
            scenario::warm_up(&bench, &running, options.smoke)?;
            let seconds = if options.smoke { 0.5 } else { 2.0 };
            idle.push(Idle { rep, peer, cpu_us_per_s: idle_cpu(&mut running, ticks, seconds)? });
            for scenario in &scenarios {
                let tag = format!("{}-{}-{rep}", scenario.name, peer.name());
                let measured = scenario::measure(&bench, scenario, &mut running, &tag)?;
                print_run(scenario.name, &measured);
                runs.push(Run { rep, peer, scenario: scenario.name, measured });
            }
        }
    }
    drop(origin);

    let nginx_version = match &nginx {
        Some(nginx) => nginx::version(nginx),
        None if options.smoke => "not run (--smoke)".to_owned(),
        None => "missing: skipped".to_owned(),
    };
    let results = Results {
        command: ["cargo xtask bench-h2"]
            .into_iter()
            .chain(args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        smoke: options.smoke,
        reps: options.reps,
        setup: setup(&binary, &h2load, nginx_version, &launch, cpus, ticks),
        scenarios: scenarios.iter().map(|s| (s.name, s.command())).collect(),
        runs,
        idle,
        skipped,
    };
    let out = portcullis_testkit::plugins::workspace_root().join("target").join("bench-h2");
    // A smoke run or a non-default pool gets files of its own, next to the default's.
    let mut suffix = if options.pool == DEFAULT_POOL { String::new() } else { format!("-pool{}", options.pool) };
    if options.smoke {
        suffix.push_str("-smoke");
    }
    let (json_path, table_path) = write(&out, &suffix, &results)?;
    println!("\n{}", results.markdown());
    println!("bench-h2: wrote {} and {}", json_path.display(), table_path.display());
    check_written(&json_path, &scenarios, options.reps)?;
    let failures: u64 = results.runs.iter().map(|r| r.measured.failures).sum();
    if failures > 0 {
        return Err(format!("{failures} requests failed (see the table); the files in {} show why", dir.display()));
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// One line of progress per run.
fn print_run(scenario: &str, m: &scenario::Measurement) {
    println!(
        "  {scenario:<17} {:>8.0}/s  {:>6.1} µs proxy CPU/req  p99 {} µs  {} failed  {} origin conns opened  \
         other load {:.0}% of a CPU  ({}, {})",
        m.rate(),
        m.cpu_us_per_request(),
        m.latency.map_or("—".to_owned(), |p| p.p99.to_string()),
        m.failures,
        m.upstream_connections,
        m.other_cpu * 100.0,
        m.tls.protocol,
        m.tls.alpn,
    );
}

/// CPU the idle peer burns per second (portcullis's epoch ticker, nginx's timers).
fn idle_cpu(running: &mut Running, ticks: u64, seconds: f64) -> Result<f64, String> {
    let before = running.cpu_ticks()?;
    std::thread::sleep(Duration::from_secs_f64(seconds));
    let spent = running.cpu_ticks()? - before;
    Ok(spent as f64 * 1e6 / ticks as f64 / seconds)
}

fn write(out: &Path, suffix: &str, results: &Results) -> Result<(PathBuf, PathBuf), String> {
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let (json, table) = (out.join(format!("results{suffix}.json")), out.join(format!("table{suffix}.md")));
    std::fs::write(&json, results.json()).map_err(|e| format!("cannot write {}: {e}", json.display()))?;
    std::fs::write(&table, results.markdown()).map_err(|e| format!("cannot write {}: {e}", table.display()))?;
    Ok((json, table))
}

/// Reads the JSON back: every scenario present with a portcullis run per repetition.
fn check_written(path: &Path, scenarios: &[scenario::Scenario], reps: u32) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read back {}: {e}", path.display()))?;
    if !text.starts_with('{') || !text.trim_end().ends_with('}') {
        return Err(format!("{} is not a JSON object", path.display()));
    }
    for scenario in scenarios {
        let needle = format!("\"peer\": \"portcullis\",\n      \"scenario\": \"{}\"", scenario.name);
        let found = text.matches(&needle).count();
        if found != reps as usize {
            return Err(format!("{}: {found} portcullis runs of {}, expected {reps}", path.display(), scenario.name));
        }
    }
    Ok(())
}

/// Versions and topology, for the report.
fn setup(
    binary: &Path,
    h2load: &Path,
    nginx: String,
    launch: &peer::Launch<'_>,
    cpus: usize,
    ticks: u64,
) -> Vec<(&'static str, String)> {
    let topology = if launch.cpu.is_some() {
        format!("proxy pinned to CPU {PROXY_CPU} (taskset -c {PROXY_CPU}); origin, h2load and xtask on CPU {LOAD_CPU}")
    } else {
        "unpinned".to_owned()
    };
    let mut setup = system::describe(cpus);
    setup.extend([
        ("topology", topology),
        ("portcullis", format!("{} (release), workers = 1", portcullis::version(binary))),
        ("portcullis_tls", locked_versions(&["rustls", "ring", "tokio-rustls", "h2"])),
        ("nginx", nginx),
        ("h2load", h2load::version(h2load)),
        ("openssl", system::output("openssl", &["version"])),
        ("certificate", launch.cert.kind.to_owned()),
        (
            "origin_pool",
            format!("{} idle connections (nginx `keepalive`, portcullis `[pool] max_idle_per_key`)", launch.pool),
        ),
        ("clock_ticks_per_s", ticks.to_string()),
    ]);
    setup
}

/// `name version` of each crate as locked in the workspace's Cargo.lock.
fn locked_versions(names: &[&str]) -> String {
    let lock =
        std::fs::read_to_string(portcullis_testkit::plugins::workspace_root().join("Cargo.lock")).unwrap_or_default();
    let lines: Vec<&str> = lock.lines().collect();
    names
        .iter()
        .map(|name| {
            let wanted = format!("name = \"{name}\"");
            let versions: Vec<&str> = lines
                .windows(2)
                .filter(|pair| pair[0] == wanted)
                .filter_map(|pair| pair[1].strip_prefix("version = \"")?.strip_suffix('"'))
                .collect();
            format!("{name} {}", if versions.is_empty() { "?".to_owned() } else { versions.join("+") })
        })
        .collect::<Vec<_>>()
        .join(", ")
}
