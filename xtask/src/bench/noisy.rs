//! The noisy neighbour: light requests at a constant rate (open loop) through a proxy with
//! one worker, alone and then next to 20 requests per second whose logic burns 5 ms of CPU
//! each (10% of the core): a Lua loop in nginx+Lua, the `probe` Wasm plugin in portcullis
//! (cooperative, the default, and `cooperative = false` for contrast). The light requests'
//! p99 with neighbours over their p99 alone says whether slow logic stalls everyone else.

use std::time::Duration;

use portcullis_loadgen::Plan;

use super::measure::{self, Measured};
use super::peers::{self, Peer};
use super::Bench;

pub const LIGHT_RATE: u32 = 1000;
const LIGHT_CONNECTIONS: usize = 16;
pub const SLOW_RATE: u32 = 20;
const SLOW_CONNECTIONS: usize = 4;

/// A proxy set up for the neighbour test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    pub peer: Peer,
    pub label: &'static str,
    cooperative: bool,
}

const SETUPS: [Setup; 3] = [
    Setup { peer: Peer::NginxLua, label: "nginx+Lua (Lua loop)", cooperative: false },
    Setup { peer: Peer::Portcullis, label: "portcullis (Wasm, cooperative)", cooperative: true },
    Setup { peer: Peer::Portcullis, label: "portcullis (Wasm, cooperative = false)", cooperative: false },
];

#[derive(Clone, Debug)]
pub struct NoisyRun {
    pub rep: u32,
    pub setup: Setup,
    /// Light requests only.
    pub alone: Measured,
    /// Light requests next to the slow ones.
    pub neighbours: Measured,
}

/// Runs the setups whose peer is among `peers`.
pub fn run(bench: &Bench<'_>, peers: &[Peer]) -> Result<Vec<NoisyRun>, String> {
    let seconds = if bench.options.smoke { 1.0 } else { 10.0 };
    let phase = Duration::from_secs_f64(seconds);
    let mut runs = Vec::new();
    for rep in 1..=bench.options.reps {
        for setup in SETUPS.into_iter().filter(|s| peers.contains(&s.peer)) {
            println!("bench: repetition {rep}/{}: noisy neighbour, {}", bench.options.reps, setup.label);
            let extra = [("cooperative", setup.cooperative.to_string())];
            let mut running = peers::start(bench.programs, setup.peer, "noisy", &extra, bench.launch)?;
            let addr = super::addr(running.port);
            let light = |length| Plan::http1_open(addr, "/bytes/100", LIGHT_RATE, LIGHT_CONNECTIONS, length);
            let slow = |length| Plan::http1_open(addr, "/slow", SLOW_RATE, SLOW_CONNECTIONS, length);
            // Warm-up: connections, pools, and the slow route's plugin instance.
            portcullis_loadgen::run(&[light(Duration::from_millis(500)), slow(Duration::from_millis(500))])?;
            let alone = measure::run(&mut running, &[light(phase)], bench.ticks, bench.origins)?;
            let neighbours = measure::run(&mut running, &[light(phase), slow(phase)], bench.ticks, bench.origins)?;
            for (phase, measured) in [("alone", &alone), ("neighbours", &neighbours)] {
                println!(
                    "  {phase:<10} p50 {} µs  p99 {} µs  p99.9 {} µs  {} failed",
                    measured.latency.p50, measured.latency.p99, measured.latency.p999, measured.failures
                );
            }
            runs.push(NoisyRun { rep, setup, alone, neighbours });
        }
    }
    Ok(runs)
}
