//! The noisy neighbour, end to end: light requests at a constant rate through a gateway
//! with one worker thread, alone and then next to a stream of requests whose plugin burns
//! 5 ms of CPU each. Reports the light requests' latency percentiles and the p99 ratio
//! (goal: at most 1.2x the p99 without neighbours).
//!
//! `cargo bench -p portcullis --bench neighbour` (add `-- --seconds N` for longer phases).
//! Under `cargo test` (no `--bench` argument) it runs as a smoke test: half-second phases,
//! checking only that every request is answered.
//!
//! - The gateway is the release binary, started per scenario with `workers = 1`, pinned to
//!   CPU 0 when `taskset` exists; this process (load and origin) moves to CPU 1.
//! - Open loop, by the benches' load generator (`benches/loadgen`): a request's latency
//!   counts from its due time when its connection was still busy then, so a stall shows up
//!   in full (no coordinated omission).
//! - `cargo xtask bench` runs the same test against nginx+Lua as well.
//! - Scenarios: `alone` (light requests only), `neighbours` (plus 20 req/s of 5 ms plugin
//!   calls, cooperative: the default), `neighbours-blocking` (the same with
//!   `cooperative = false`, what the default protects against).
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use portcullis_loadgen::{self as loadgen, Plan};
use portcullis_testkit::plugins;

const LIGHT_RATE: u32 = 1000;
const LIGHT_CONNECTIONS: usize = 16;
const SLOW_RATE: u32 = 20;
const SLOW_CONNECTIONS: usize = 4;
const SLOW_CPU_MS: u32 = 5;

fn main() {
    let measuring = std::env::args().any(|arg| arg == "--bench");
    let seconds: u64 = std::env::args()
        .skip_while(|arg| arg != "--seconds")
        .nth(1)
        .map_or(10, |s| s.parse().expect("--seconds takes a whole number"));
    let (warm_up, phase) = if measuring {
        (Duration::from_secs(1), Duration::from_secs(seconds))
    } else {
        (Duration::from_millis(200), Duration::from_millis(500))
    };
    let built = plugins::build().unwrap();
    let dir = plugins::workspace_root().join("target").join("bench-neighbour-plugins");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(built.wasm("probe"), dir.join("probe.wasm")).unwrap();
    let pinned = pin_self_to_cpu(1);

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    // The demo origin, on this process's runtime (CPU 1).
    let origin = runtime.block_on(portcullis::demo::spawn_origin("127.0.0.1:0".parse().unwrap())).unwrap();
    let mut results = Vec::new();
    for (name, cooperative, neighbours) in
        [("alone", true, false), ("neighbours", true, true), ("neighbours-blocking", false, true)]
    {
        let gateway = Gateway::start(&dir, origin, cooperative, pinned);
        let light = |length| Plan::http1_open(gateway.addr, "/light", LIGHT_RATE, LIGHT_CONNECTIONS, length);
        let slow = |length| Plan::http1_open(gateway.addr, "/slow", SLOW_RATE, SLOW_CONNECTIONS, length);
        // Warm up connections, the plugin pool and the origin pool, unmeasured.
        loadgen::run(&[light(warm_up)]).unwrap();
        let mut plans = vec![light(phase)];
        if neighbours {
            plans.push(slow(phase));
        }
        let outcomes = loadgen::run(&plans).unwrap();
        for outcome in &outcomes {
            assert!(outcome.clean(), "{name}: {:?}", outcome.first_problem);
        }
        results.push((name, outcomes[0].expected, outcomes[0].percentiles()));
    }

    let base = results[0].2.p99;
    println!(
        "\nlight requests at {LIGHT_RATE}/s for {:.1} s, gateway with 1 worker{}",
        phase.as_secs_f64(),
        if pinned { " on CPU 0" } else { "" }
    );
    println!(
        "{:<22} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "scenario", "requests", "p50 µs", "p99 µs", "p99.9 µs", "max µs", "p99 ratio"
    );
    for (name, count, s) in &results {
        println!(
            "{name:<22} {count:>9} {:>9} {:>9} {:>9} {:>9} {:>9.2}x",
            s.p50,
            s.p99,
            s.p999,
            s.max,
            s.p99 as f64 / base as f64
        );
    }
}

/// `portcullis run` with one worker: `/slow` burns CPU in a plugin, every other path runs
/// a light plugin call.
struct Gateway {
    child: Child,
    addr: SocketAddr,
    _config: std::path::PathBuf,
}

impl Gateway {
    fn start(dir: &std::path::Path, origin: SocketAddr, cooperative: bool, pin: bool) -> Gateway {
        use std::io::BufRead;
        let config = std::env::temp_dir().join(format!("portcullis-neighbour-{}.toml", std::process::id()));
        std::fs::write(
            &config,
            format!(
                "[server]\nlisten = [\"127.0.0.1:0\"]\nworkers = 1\nplugin_dir = {dir:?}\n\
                 [sandbox]\ncooperative = {cooperative}\ncpu_deadline = \"1s\"\n\
                 [upstreams.app]\nendpoints = [\"{origin}\"]\n\
                 [[routes]]\nmatch = {{ path_prefix = \"/slow\" }}\nupstream = \"app\"\n\
                 plugins = [{{ name = \"probe\", config = {{ spin_ms = {SLOW_CPU_MS} }} }}]\n\
                 [[routes]]\nupstream = \"app\"\nplugins = [{{ name = \"probe\", config = {{ tag = \"light\" }} }}]\n"
            ),
        )
        .unwrap();
        let binary = env!("CARGO_BIN_EXE_portcullis");
        let mut command = if pin {
            let mut c = Command::new("taskset");
            c.args(["-c", "0", binary]);
            c
        } else {
            Command::new(binary)
        };
        let mut child = command
            .args(["run", "--config"])
            .arg(&config)
            .env("PORTCULLIS_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = loop {
            let line = lines.next().expect("the gateway exited before listening").unwrap();
            if let Some(addr) = line.strip_prefix("portcullis listening on http://") {
                break addr.trim().parse().unwrap();
            }
        };
        Gateway { child, addr, _config: config }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Moves this process to `cpu` so load and origin stay off the gateway's core; `false` when
/// `taskset` is missing or the machine has one CPU.
fn pin_self_to_cpu(cpu: u32) -> bool {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus < 2 {
        return false;
    }
    let pid = std::process::id().to_string();
    let moved = Command::new("taskset").args(["-a", "-cp", &cpu.to_string(), &pid]).stdout(Stdio::null()).status();
    moved.is_ok_and(|s| s.success())
}
