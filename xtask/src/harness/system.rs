//! What else happened on the machine during a run: CPU used by processes that are not part
//! of the bench (this machine is shared; a concurrent build skews every figure), and TCP
//! connections opened (beyond the load generator's own, the proxy's new connections to the
//! origin: how well its upstream pool keeps up).

use super::cpu;

/// System-wide counters at one moment, next to the bench's own CPU time.
pub struct Snapshot {
    /// user + nice + system of every CPU, in clock ticks (`/proc/stat`). Interrupt time is
    /// left out on both sides: whether it is charged to processes depends on the kernel.
    busy: u64,
    /// Proxy, origins, this process and its reaped children (every h2load), in clock ticks.
    ours: u64,
    /// `Tcp: ActiveOpens` of `/proc/net/snmp`: connections this host started.
    tcp_opens: u64,
}

impl Snapshot {
    /// `origins`: the origin processes, whose CPU is the bench's too.
    pub fn take(proxy_ticks: u64, origins: &[u32]) -> Result<Snapshot, String> {
        let mut ours = proxy_ticks + own_and_children()?;
        for &origin in origins {
            ours += cpu::ticks(origin)?;
        }
        Ok(Snapshot { busy: busy()?, ours, tcp_opens: tcp_active_opens()? })
    }

    /// Clock ticks of CPU used by everything else since `earlier`.
    pub fn other_ticks(&self, earlier: &Snapshot) -> u64 {
        (self.busy - earlier.busy).saturating_sub(self.ours - earlier.ours)
    }

    pub fn tcp_opens(&self, earlier: &Snapshot) -> u64 {
        self.tcp_opens - earlier.tcp_opens
    }
}

fn busy() -> Result<u64, String> {
    let stat = std::fs::read_to_string("/proc/stat").map_err(|e| format!("cannot read /proc/stat: {e}"))?;
    let line = stat.lines().find(|l| l.starts_with("cpu ")).ok_or("/proc/stat has no `cpu` line")?;
    let fields: Vec<u64> = line.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    match fields.as_slice() {
        [user, nice, system, ..] => Ok(user + nice + system),
        _ => Err(format!("unreadable /proc/stat line {line:?}")),
    }
}

/// utime + stime + cutime + cstime of this process.
fn own_and_children() -> Result<u64, String> {
    let stat = std::fs::read_to_string("/proc/self/stat").map_err(|e| format!("cannot read /proc/self/stat: {e}"))?;
    let (_, rest) = stat.rsplit_once(')').ok_or("/proc/self/stat has no `)`")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14-17 of proc(5), 11-14 after the name.
    (11..=14)
        .map(|i| fields.get(i).and_then(|f| f.parse::<u64>().ok()).ok_or("/proc/self/stat: unreadable times"))
        .sum::<Result<u64, _>>()
        .map_err(str::to_owned)
}

fn tcp_active_opens() -> Result<u64, String> {
    let snmp = std::fs::read_to_string("/proc/net/snmp").map_err(|e| format!("cannot read /proc/net/snmp: {e}"))?;
    let mut tcp = snmp.lines().filter(|l| l.starts_with("Tcp:"));
    let (Some(names), Some(values)) = (tcp.next(), tcp.next()) else {
        return Err("/proc/net/snmp has no Tcp lines".to_owned());
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(name, _)| *name == "ActiveOpens")
        .and_then(|(_, value)| value.parse().ok())
        .ok_or_else(|| "/proc/net/snmp: no Tcp ActiveOpens".to_owned())
}

/// CPUs' worth of load from other processes over `period`, measured while the bench does
/// nothing: a warning sign before minutes of measuring.
pub fn load_elsewhere(period: std::time::Duration, ticks_per_second: u64) -> Result<f64, String> {
    let (busy_before, ours_before) = (busy()?, own_and_children()?);
    std::thread::sleep(period);
    let other = (busy()? - busy_before).saturating_sub(own_and_children()? - ours_before);
    Ok(other as f64 / ticks_per_second as f64 / period.as_secs_f64())
}

/// What `program args` prints on stdout, trimmed, or why it could not run.
pub fn output(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|e| format!("unknown ({e})"))
}

/// The report lines every bench starts with: when, on what, from which commit (`-dirty`: the
/// working tree had changes, and the binaries were built from it).
pub fn describe(cpus: usize) -> Vec<(&'static str, String)> {
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name").map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned()))
        })
        .unwrap_or_else(|| "unknown".to_owned());
    vec![
        ("date", output("date", &["-u", "+%Y-%m-%d %H:%M UTC"])),
        ("machine", format!("{cpus} CPUs, {cpu_model}, Linux {}", output("uname", &["-r"]))),
        ("commit", output("git", &["describe", "--always", "--dirty"])),
    ]
}

/// The proxy under test runs on this CPU...
pub const PROXY_CPU: u32 = 0;
/// ...and the origins, the load and the bench itself on this one.
pub const LOAD_CPU: u32 = 1;

/// How a bench's processes are placed, once the builds (which had both cores) are done.
pub struct Placement {
    pub cpus: usize,
    /// `None`: unpinned (one CPU, or no `taskset`).
    pub proxy_cpu: Option<u32>,
    pub load_cpu: Option<u32>,
    pub ticks_per_second: u64,
}

/// Moves this process to `LOAD_CPU` and warns (with `tag`) when that fails or when other
/// processes are busy right now, before minutes of measuring.
pub fn place(tag: &str) -> Result<Placement, String> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pinned = cpus >= 2 && super::process::pin_self(LOAD_CPU);
    if !pinned {
        eprintln!("{tag}: WARNING: cannot pin ({cpus} CPUs, or taskset missing): running unpinned");
    }
    let ticks_per_second = cpu::ticks_per_second()?;
    let elsewhere = load_elsewhere(std::time::Duration::from_secs(1), ticks_per_second)?;
    if elsewhere > 0.2 {
        eprintln!(
            "{tag}: WARNING: other processes are using {:.0}% of a CPU right now; the figures will be \
             disturbed (each run reports the load it saw)",
            elsewhere * 100.0
        );
    }
    let (proxy_cpu, load_cpu) = if pinned { (Some(PROXY_CPU), Some(LOAD_CPU)) } else { (None, None) };
    Ok(Placement { cpus, proxy_cpu, load_cpu, ticks_per_second })
}
