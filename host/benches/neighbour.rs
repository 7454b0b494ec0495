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
//! - Open loop: request `i` is due at `start + i / rate`. When its connection was still
//!   busy with the previous response at that moment, its latency counts from the due time,
//!   so a stall shows up in full (no coordinated omission); otherwise from when it was sent,
//!   so the timer's millisecond granularity is not charged to the gateway.
//! - Scenarios: `alone` (light requests only), `neighbours` (plus 20 req/s of 5 ms plugin
//!   calls, cooperative: the default), `neighbours-blocking` (the same with
//!   `cooperative = false`, what the default protects against).
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use portcullis_testkit::plugins;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const LIGHT_RATE: u32 = 1000;
const LIGHT_CONNECTIONS: u32 = 16;
const SLOW_RATE: u32 = 20;
const SLOW_CONNECTIONS: u32 = 4;
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
    let origin = runtime.block_on(origin());
    let mut results = Vec::new();
    for (name, cooperative, neighbours) in
        [("alone", true, false), ("neighbours", true, true), ("neighbours-blocking", false, true)]
    {
        let gateway = Gateway::start(&dir, origin, cooperative, pinned);
        let light = runtime.block_on(async {
            // Warm up connections, the plugin pool and the origin pool, unmeasured.
            let _ = run(gateway.addr, "/light", LIGHT_RATE, LIGHT_CONNECTIONS, warm_up).await;
            let slow = neighbours
                .then(|| tokio::spawn(run(gateway.addr, "/slow", SLOW_RATE, SLOW_CONNECTIONS, phase + warm_up)));
            let light = run(gateway.addr, "/light", LIGHT_RATE, LIGHT_CONNECTIONS, phase).await;
            if let Some(slow) = slow {
                let slow = slow.await.unwrap();
                assert!(slow.errors == 0, "{} slow requests failed", slow.errors);
            }
            light
        });
        assert!(light.errors == 0, "{name}: {} light requests failed", light.errors);
        results.push((name, light.summary()));
    }

    let base = results[0].1.p99;
    println!(
        "\nlight requests at {LIGHT_RATE}/s for {:.1} s, gateway with 1 worker{}",
        phase.as_secs_f64(),
        if pinned { " on CPU 0" } else { "" }
    );
    println!(
        "{:<22} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "scenario", "requests", "p50 µs", "p99 µs", "p99.9 µs", "max µs", "p99 ratio"
    );
    for (name, s) in &results {
        println!(
            "{name:<22} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9.2}x",
            s.count,
            s.p50.as_micros(),
            s.p99.as_micros(),
            s.p999.as_micros(),
            s.max.as_micros(),
            s.p99.as_secs_f64() / base.as_secs_f64()
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

/// A keep-alive origin answering every request with a 2-byte body.
async fn origin() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { continue };
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                let mut buf = Vec::with_capacity(4096);
                loop {
                    match read_until(&mut stream, &mut buf, b"\r\n\r\n").await {
                        Some(end) => drop(buf.drain(..end)),
                        None => return,
                    }
                    let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                    if stream.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// Reads until `buf` holds `needle`; the index just past it, or `None` at end of stream.
async fn read_until(stream: &mut TcpStream, buf: &mut Vec<u8>, needle: &[u8]) -> Option<usize> {
    loop {
        if let Some(at) = buf.windows(needle.len()).position(|w| w == needle) {
            return Some(at + needle.len());
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

#[derive(Default)]
struct Recorded {
    latencies: Vec<Duration>,
    errors: u64,
}

struct Summary {
    count: usize,
    p50: Duration,
    p99: Duration,
    p999: Duration,
    max: Duration,
}

impl Recorded {
    fn summary(mut self) -> Summary {
        self.latencies.sort();
        let at = |q: f64| self.latencies[((self.latencies.len() as f64 * q) as usize).min(self.latencies.len() - 1)];
        Summary {
            count: self.latencies.len(),
            p50: at(0.50),
            p99: at(0.99),
            p999: at(0.999),
            max: self.latencies.last().copied().unwrap_or_default(),
        }
    }
}

/// Sends `GET path` at `rate` per second for `length`, spread over `connections` keep-alive
/// connections (connection `c` takes requests `c`, `c + connections`, ...). Each latency is
/// measured from the request's due time.
async fn run(addr: SocketAddr, path: &str, rate: u32, connections: u32, length: Duration) -> Recorded {
    let start = tokio::time::Instant::now() + Duration::from_millis(10);
    let total = (u64::from(rate) * length.as_millis() as u64 / 1000) as u32;
    let interval = Duration::from_secs(1) / rate;
    let request = format!("GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n").into_bytes();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut recorded = Recorded::default();
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream.set_nodelay(true).unwrap();
            let mut buf = Vec::with_capacity(4096);
            let mut free_since = Instant::now();
            for i in (c..total).step_by(connections as usize) {
                let due = (start + interval * i).into_std();
                tokio::time::sleep_until(due.into()).await;
                let sent = Instant::now();
                let from = if free_since > due { due } else { sent };
                let ok = stream.write_all(&request).await.is_ok()
                    && match read_until(&mut stream, &mut buf, b"\r\n\r\n").await {
                        Some(end) => {
                            let ok = buf.starts_with(b"HTTP/1.1 200");
                            buf.drain(..end);
                            // The origin's 2-byte body.
                            while buf.len() < 2 {
                                let mut chunk = [0u8; 64];
                                match stream.read(&mut chunk).await {
                                    Ok(0) | Err(_) => return recorded,
                                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                                }
                            }
                            buf.drain(..2);
                            ok
                        }
                        None => false,
                    };
                if ok {
                    free_since = Instant::now();
                    recorded.latencies.push(free_since - from);
                } else {
                    recorded.errors += 1;
                    return recorded;
                }
            }
            recorded
        }));
    }
    let mut all = Recorded::default();
    for task in tasks {
        let recorded = task.await.unwrap();
        all.latencies.extend(recorded.latencies);
        all.errors += recorded.errors;
    }
    all
}
