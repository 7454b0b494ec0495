//! `cargo xtask bench [--smoke] [--reps N] [--seconds S] [--skip-micro] [--skip-noisy]
//! [--peers nginx,portcullis,…] [--scenarios plain,waf,…]`: portcullis against
//! nginx, nginx+Lua, HAProxy and Pingora, end to end, every scenario × body size × protocol,
//! then the noisy neighbour and the crates' micro-benchmarks; writes `target/bench/`
//! `results.json`, `report.md` and `plots/*.svg`. BENCHMARKS.md explains the set-up.
//!
//! - Topology: the proxy under test pinned to CPU 0; the two origins (`portcullis origin`),
//!   the load generator (`benches/loadgen`, in this process) on CPU 1. CPU time per request
//!   comes from `/proc`, so the comparison holds when the load side saturates first.
//! - Each repetition, for each scenario, starts every peer afresh with that scenario's
//!   config, checks that it does what the scenario says (`Scenario::verify`), warms it up,
//!   and measures 3 body sizes over HTTP/1.1 and then h2c. The peers' order rotates between
//!   repetitions. Every run is bounded in time.
//! - `--smoke`: portcullis alone (dev build), one second per run, the noisy neighbour in one
//!   second phases, micro-benchmarks collected only if already measured; fails unless every
//!   scenario produced its figures. CI runs it.

mod measure;
mod micro;
mod noisy;
mod peers;
mod plot;
mod report;
mod scenario;

use std::path::{Path, PathBuf};
use std::time::Duration;

use portcullis_loadgen::{Pace, Protocol};

use crate::harness::origin;
use crate::harness::system::{self, LOAD_CPU, PROXY_CPU};
use peers::{Launch, Peer};
use report::{Results, Run};
use scenario::Scenario;

/// Idle connections each peer keeps per origin: above the 32 requests in flight.
const POOL: u32 = 64;

pub struct Options {
    pub smoke: bool,
    pub reps: u32,
    /// Length of one measured run.
    pub seconds: f64,
    pub skip_micro: bool,
    pub skip_noisy: bool,
    /// `--peers`: only these (all found ones when empty).
    pub peers: Vec<Peer>,
    /// `--scenarios`: only these (all when empty).
    pub scenarios: Vec<Scenario>,
}

fn options(args: &[String]) -> Result<Options, String> {
    let usage = "usage: cargo xtask bench [--smoke] [--reps N] [--seconds S] [--skip-micro] [--skip-noisy] \
                 [--peers nginx,nginx-lua,haproxy,pingora,portcullis] [--scenarios plain,rewrite,waf,origin-select]";
    let mut smoke = false;
    let mut skip_micro = false;
    let mut skip_noisy = false;
    let mut peers = Vec::new();
    let mut scenarios = Vec::new();
    let mut reps = None;
    let mut seconds = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--smoke" => smoke = true,
            "--skip-micro" => skip_micro = true,
            "--skip-noisy" => skip_noisy = true,
            "--peers" => {
                let list = args.next().ok_or("--peers needs a comma-separated list")?;
                peers = list.split(',').map(Peer::from_key).collect::<Result<_, _>>()?;
            }
            "--scenarios" => {
                let list = args.next().ok_or("--scenarios needs a comma-separated list")?;
                scenarios = list.split(',').map(Scenario::from_name).collect::<Result<_, _>>()?;
            }
            "--reps" => {
                let value = args.next().ok_or("--reps needs a number")?;
                reps = Some(value.parse().ok().filter(|&n| n >= 1).ok_or("--reps takes a whole number ≥ 1")?);
            }
            "--seconds" => {
                let value = args.next().ok_or("--seconds needs a number")?;
                let parsed = value.parse::<f64>().ok().filter(|&s| (0.1..=60.0).contains(&s));
                seconds = Some(parsed.ok_or("--seconds takes a number from 0.1 to 60")?);
            }
            other => return Err(format!("unknown argument {other:?}; {usage}")),
        }
    }
    Ok(Options {
        smoke,
        // Three repetitions show the spread; a smoke run needs one.
        reps: reps.unwrap_or(if smoke { 1 } else { 3 }),
        seconds: seconds.unwrap_or(if smoke { 1.0 } else { 2.0 }),
        skip_micro: skip_micro || smoke,
        skip_noisy,
        peers,
        scenarios: if scenarios.is_empty() { scenario::ALL.to_vec() } else { scenarios },
    })
}

pub fn run(args: &[String]) -> Result<(), String> {
    let options = options(args)?;
    // The plugins first: portcullis's scenarios run the repository's own components.
    let built = portcullis_testkit::plugins::build()?;
    let programs = peers::find(options.smoke, &options.peers)?;
    let micro = micro::collect(options.skip_micro)?;
    // Placed only now: the builds above had both cores.
    let placement = system::place("bench")?;
    let (cpus, pinned, ticks) = (placement.cpus, placement.proxy_cpu.is_some(), placement.ticks_per_second);
    let (proxy_cpu, load_cpu) = (placement.proxy_cpu, placement.load_cpu);

    let dir = std::env::temp_dir().join(format!("portcullis-bench-{}", std::process::id()));
    let plugins = plugin_dir(&dir, &built)?;
    let portcullis = programs.get(Peer::Portcullis).ok_or("no portcullis binary")?.to_path_buf();
    let (origin_a, port_a) = origin::start(&portcullis, &dir, "origin-a", load_cpu)?;
    let (origin_b, port_b) = origin::start(&portcullis, &dir, "origin-b", load_cpu)?;
    let origins = [origin_a.pid(), origin_b.pid()];
    let launch =
        Launch { dir: &dir, origin_a: port_a, origin_b: port_b, pool: POOL, cpu: proxy_cpu, plugins: &plugins };
    let bench = Bench { programs: &programs, launch: &launch, ticks, origins: &origins, options: &options };

    let peers: Vec<Peer> =
        programs.peers().into_iter().filter(|p| options.peers.is_empty() || options.peers.contains(p)).collect();
    let mut runs = Vec::new();
    for rep in 1..=options.reps {
        for &scenario in &options.scenarios {
            // Rotate who goes first, so no peer always meets the machine in the same state.
            let mut order = peers.clone();
            let turn = (rep as usize - 1) % order.len().max(1);
            order.rotate_left(turn);
            for &peer in &order {
                println!("bench: repetition {rep}/{}: {} {}", options.reps, scenario.name(), peer.name());
                runs.extend(bench.scenario(rep, scenario, peer)?);
            }
        }
    }
    let noisy = if options.skip_noisy { Vec::new() } else { noisy::run(&bench, &peers)? };
    drop((origin_a, origin_b));

    let results = Results {
        command: std::iter::once("cargo xtask bench")
            .chain(args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        smoke: options.smoke,
        reps: options.reps,
        seconds: options.seconds,
        setup: setup(&programs, pinned, cpus, ticks),
        peers,
        scenarios: options.scenarios.clone(),
        noisy_ran: !options.skip_noisy,
        runs,
        noisy,
        micro,
        skipped: programs.skipped.clone(),
    };
    let out = portcullis_testkit::plugins::workspace_root().join("target").join(if options.smoke {
        "bench-smoke"
    } else {
        "bench"
    });
    let written = results.write(&out)?;
    println!("\n{}", results.summary_markdown());
    for path in &written {
        println!("bench: wrote {}", path.display());
    }
    results.check_complete()?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// What every run needs besides its peer and scenario.
pub struct Bench<'a> {
    pub programs: &'a peers::Programs,
    pub launch: &'a Launch<'a>,
    pub ticks: u64,
    /// The origins' PIDs: their CPU is the bench's, not someone else's.
    pub origins: &'a [u32],
    pub options: &'a Options,
}

impl Bench<'_> {
    /// One peer started with one scenario: checked, warmed up, then every size over both
    /// protocols.
    fn scenario(&self, rep: u32, scenario: Scenario, peer: Peer) -> Result<Vec<Run>, String> {
        let mut running = peers::start(self.programs, peer, scenario.name(), &[], self.launch)?;
        let (h1, h2) = (addr(running.port), addr(running.h2_port));
        scenario
            .verify(h1, h2, self.launch.origin_a, self.launch.origin_b)
            .map_err(|e| format!("{} does not do the {} scenario: {e}", peer.name(), scenario.name()))?;
        let warm = if self.options.smoke { 0.2 } else { 1.0 };
        for (protocol, addr) in [(Protocol::Http1, h1), (Protocol::H2c, h2)] {
            let plan = measure::plan(
                addr,
                protocol,
                scenario.mix(100),
                Pace::Closed { duration: Duration::from_secs_f64(warm) },
            );
            let outcome = portcullis_loadgen::run(&[plan])?.remove(0);
            if !outcome.clean() {
                return Err(format!(
                    "{} {} warm-up over {protocol:?}: {}",
                    peer.name(),
                    scenario.name(),
                    outcome.first_problem.unwrap_or_default()
                ));
            }
        }
        let mut runs = Vec::new();
        for (protocol, addr) in [(Protocol::Http1, h1), (Protocol::H2c, h2)] {
            for size in scenario::SIZES {
                let pace = Pace::Closed { duration: Duration::from_secs_f64(self.options.seconds) };
                let plan = measure::plan(addr, protocol, scenario.mix(size), pace);
                let measured = measure::run(&mut running, &[plan], self.ticks, self.origins)?;
                let run = Run { rep, peer, scenario, protocol, size, measured };
                println!("  {}", run.progress_line());
                runs.push(run);
            }
        }
        Ok(runs)
    }
}

fn addr(port: u16) -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], port))
}

/// The repository's plugins and the `probe` test plugin (the noisy neighbour's CPU burner),
/// copied into one directory for portcullis's `plugin_dir`.
fn plugin_dir(dir: &Path, built: &portcullis_testkit::plugins::BuiltPlugins) -> Result<PathBuf, String> {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).map_err(|e| format!("cannot create {}: {e}", plugins.display()))?;
    for name in ["header-rewrite", "waf", "origin-select"] {
        copy(&built.plugins.join(format!("{name}.wasm")), &plugins)?;
    }
    copy(&built.wasm("probe"), &plugins)?;
    Ok(plugins)
}

fn copy(file: &Path, into: &Path) -> Result<(), String> {
    let name = file.file_name().ok_or_else(|| format!("{} has no file name", file.display()))?;
    std::fs::copy(file, into.join(name)).map(|_| ()).map_err(|e| format!("cannot copy {}: {e}", file.display()))
}

/// Versions and topology, for the report.
fn setup(programs: &peers::Programs, pinned: bool, cpus: usize, ticks: u64) -> Vec<(&'static str, String)> {
    let topology = if pinned {
        format!("proxy pinned to CPU {PROXY_CPU}; origins and load generator on CPU {LOAD_CPU}")
    } else {
        "unpinned".to_owned()
    };
    let mut setup = system::describe(cpus);
    setup.extend([
        ("topology", topology),
        ("load", "benches/loadgen: closed loop, HTTP/1.1 32 connections; h2c 4 connections × 8 streams".to_owned()),
        ("origin_pool", format!("{POOL} idle connections per origin, every peer")),
        ("clock_ticks_per_s", ticks.to_string()),
    ]);
    setup.extend(programs.versions.iter().cloned());
    setup
}
