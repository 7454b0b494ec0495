//! The proxies compared, how each is found (or built) and started with a scenario's config
//! from `benches/peers/<peer>/`: `base.<ext>` with the scenario's file pasted in where
//! `{{scenario}}` stands (and `<scenario>.http.<ext>`, if any, where `{{scenario_http}}`
//! stands), then every other placeholder filled. Each peer runs one worker, pinned to the
//! proxy's CPU, with the same origins and the same idle-connection pool.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::build::cargo_build;
use crate::harness::cpu;
use crate::harness::process::{self, Guard};
use crate::harness::running::Running;
use crate::harness::template::{fill, log_file};

/// How long a peer gets to listen after it is started.
const START: Duration = Duration::from_secs(30);

/// Where Debian's nginx keeps the Lua module (`libnginx-mod-http-lua`).
const LUA_MODULE: &str = "/usr/lib/nginx/modules/ngx_http_lua_module.so";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    Nginx,
    NginxLua,
    Haproxy,
    Pingora,
    Portcullis,
}

/// In the order of the report's columns; nginx first, as every ratio's baseline.
pub const ALL: [Peer; 5] = [Peer::Nginx, Peer::NginxLua, Peer::Haproxy, Peer::Pingora, Peer::Portcullis];

impl Peer {
    pub fn name(self) -> &'static str {
        match self {
            Peer::Nginx => "nginx",
            Peer::NginxLua => "nginx+Lua",
            Peer::Haproxy => "HAProxy",
            Peer::Pingora => "Pingora",
            Peer::Portcullis => "portcullis",
        }
    }

    /// The peer called `key` on the command line (its directory's name).
    pub fn from_key(key: &str) -> Result<Peer, String> {
        ALL.into_iter()
            .find(|peer| peer.dir() == key)
            .ok_or_else(|| format!("unknown peer {key:?} (one of {})", ALL.map(Peer::dir).join(", ")))
    }

    /// Its directory under `benches/peers/`.
    fn dir(self) -> &'static str {
        match self {
            Peer::Nginx => "nginx",
            Peer::NginxLua => "nginx-lua",
            Peer::Haproxy => "haproxy",
            Peer::Pingora => "pingora",
            Peer::Portcullis => "portcullis",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Peer::Nginx | Peer::NginxLua => "conf",
            Peer::Haproxy => "cfg",
            Peer::Pingora => "",
            Peer::Portcullis => "toml",
        }
    }
}

/// The programs found or built, by peer; a peer without one is skipped.
#[derive(Default)]
pub struct Programs {
    found: Vec<(Peer, PathBuf)>,
    /// Why each missing peer is missing, for the report.
    pub skipped: Vec<String>,
    /// Versions, for the report.
    pub versions: Vec<(&'static str, String)>,
}

impl Programs {
    pub fn get(&self, peer: Peer) -> Option<&Path> {
        self.found.iter().find(|(p, _)| *p == peer).map(|(_, path)| path.as_path())
    }

    pub fn peers(&self) -> Vec<Peer> {
        ALL.into_iter().filter(|&peer| self.get(peer).is_some()).collect()
    }

    fn skip(&mut self, peer: Peer, why: String) {
        eprintln!("bench: WARNING: {} skipped: {why}", peer.name());
        self.skipped.push(format!("{}: {why}", peer.name()));
    }
}

/// Finds the Debian peers and builds Pingora's and portcullis's binaries (release; `smoke`:
/// portcullis alone, in the dev profile the test suite has already built). Pingora's build,
/// minutes long, only when `wanted` (`--peers`; empty: every peer) names it.
pub fn find(smoke: bool, wanted: &[Peer]) -> Result<Programs, String> {
    let mut programs = Programs::default();
    let portcullis = if smoke {
        cargo_build(&["--package", "portcullis"], "portcullis")?
    } else {
        cargo_build(&["--release", "--package", "portcullis"], "portcullis")?
    };
    programs.versions.push(("portcullis", version(&portcullis, &["--version"])));
    programs.found.push((Peer::Portcullis, portcullis));
    if smoke {
        for peer in [Peer::Nginx, Peer::NginxLua, Peer::Haproxy, Peer::Pingora] {
            programs.skipped.push(format!("{}: not run by --smoke (portcullis only)", peer.name()));
        }
        return Ok(programs);
    }
    match process::find_program("nginx") {
        Some(nginx) => {
            programs.versions.push(("nginx", version(&nginx, &["-v"]).replace("nginx version: ", "")));
            if Path::new(LUA_MODULE).is_file() {
                let lua = Command::new("dpkg-query")
                    .args(["-W", "-f", "${Package} ${Version}", "libnginx-mod-http-lua"])
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                    .ok()
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| LUA_MODULE.to_owned());
                programs.versions.push(("nginx_lua", lua));
                programs.found.push((Peer::NginxLua, nginx.clone()));
            } else {
                programs.skip(Peer::NginxLua, format!("no {LUA_MODULE} (`apt-get install -y libnginx-mod-http-lua`)"));
            }
            programs.found.push((Peer::Nginx, nginx));
        }
        None => {
            let why = "nginx not found on PATH or in /usr/sbin (`apt-get install -y nginx libnginx-mod-http-lua`): \
                       no baseline, so no ratios";
            programs.skip(Peer::Nginx, why.to_owned());
            programs.skip(Peer::NginxLua, "needs nginx".to_owned());
        }
    }
    match process::find_program("haproxy") {
        Some(haproxy) => {
            programs.versions.push(("haproxy", version(&haproxy, &["-v"])));
            programs.found.push((Peer::Haproxy, haproxy));
        }
        None => programs.skip(Peer::Haproxy, "haproxy not found (`apt-get install -y haproxy`)".to_owned()),
    }
    if !wanted.is_empty() && !wanted.contains(&Peer::Pingora) {
        println!("bench: Pingora is not in --peers: not built");
        return Ok(programs);
    }
    let root = portcullis_testkit::plugins::workspace_root();
    let manifest = root.join("benches/peers/pingora/Cargo.toml").display().to_string();
    let target = root.join("target/bench-pingora").display().to_string();
    println!("bench: building the Pingora peer ({manifest}); the first build takes a few minutes");
    match cargo_build(&["--release", "--manifest-path", &manifest, "--target-dir", &target], "pingora-peer") {
        Ok(pingora) => {
            programs.versions.push(("pingora", pingora_version(&root)));
            programs.found.push((Peer::Pingora, pingora));
        }
        Err(why) => programs.skip(Peer::Pingora, format!("its build failed: {why}")),
    }
    Ok(programs)
}

/// The first line a program prints about its version (on stdout or stderr).
fn version(program: &Path, args: &[&str]) -> String {
    let Ok(output) = Command::new(program).args(args).output() else { return "unknown".to_owned() };
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    text.lines().next().unwrap_or("unknown").trim().to_owned()
}

/// The `pingora-proxy` version locked for the peer.
fn pingora_version(root: &Path) -> String {
    let lock = std::fs::read_to_string(root.join("benches/peers/pingora/Cargo.lock")).unwrap_or_default();
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"pingora-proxy\"" {
            if let Some(version) = lines.next().and_then(|l| l.strip_prefix("version = \"")) {
                return format!("pingora-proxy {}", version.trim_end_matches('"'));
            }
        }
    }
    "pingora-proxy (version unknown)".to_owned()
}

/// What every start needs besides the peer and its config.
pub struct Launch<'a> {
    /// Configs, pid files, logs and temp paths go here.
    pub dir: &'a Path,
    pub origin_a: u16,
    pub origin_b: u16,
    /// Idle origin connections each peer keeps.
    pub pool: u32,
    /// The CPU the proxy is pinned to.
    pub cpu: Option<u32>,
    /// portcullis's plugin directory.
    pub plugins: &'a Path,
}

/// Starts `peer` with the config `config` (a scenario's name, or `noisy`), `extra` filling
/// placeholders only that config has; returns once it listens.
pub fn start(
    programs: &Programs,
    peer: Peer,
    config: &str,
    extra: &[(&str, String)],
    launch: &Launch<'_>,
) -> Result<Running, String> {
    let program = programs.get(peer).ok_or_else(|| format!("{} is not available", peer.name()))?;
    let (h1_port, h2_port) = match peer {
        // They cannot tell HTTP/2's preface from HTTP/1.1 on one port.
        Peer::Nginx | Peer::NginxLua | Peer::Haproxy => (free_port()?, free_port()?),
        Peer::Pingora => {
            let port = free_port()?;
            (port, port)
        }
        // Picks its own port and says which.
        Peer::Portcullis => (0, 0),
    };
    let mut values = vec![
        ("dir", launch.dir.display().to_string()),
        ("h1_port", h1_port.to_string()),
        ("h2_port", h2_port.to_string()),
        ("origin_a", launch.origin_a.to_string()),
        ("origin_b", launch.origin_b.to_string()),
        ("pool", launch.pool.to_string()),
        ("plugins", launch.plugins.display().to_string()),
    ];
    values.extend(extra.iter().map(|(name, value)| (*name, value.clone())));
    let stderr = log_file(launch.dir, &format!("{}.err", peer.dir()))?;
    let errors = format!("see {}", launch.dir.join(format!("{}.err", peer.dir())).display());
    let mut command = process::pinned(program, launch.cpu);
    command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(stderr);
    match peer {
        Peer::Nginx | Peer::NginxLua => {
            let conf = write_config(peer, config, &values, launch.dir, "nginx.conf")?;
            // -e: the startup error log, before the config's own replaces the default path.
            command.arg("-p").arg(launch.dir).arg("-c").arg(conf).arg("-e").arg(launch.dir.join("nginx-error.log"));
        }
        Peer::Haproxy => {
            let conf = write_config(peer, config, &values, launch.dir, "haproxy.cfg")?;
            // -db: stay in the foreground, a child of this process.
            command.arg("-db").arg("-f").arg(conf);
        }
        Peer::Pingora => {
            command.args([
                "--scenario",
                config,
                "--listen",
                &format!("127.0.0.1:{h1_port}"),
                "--origin-a",
                &format!("127.0.0.1:{}", launch.origin_a),
                "--origin-b",
                &format!("127.0.0.1:{}", launch.origin_b),
                "--pool",
                &launch.pool.to_string(),
            ]);
        }
        Peer::Portcullis => {
            let conf = write_config(peer, config, &values, launch.dir, "portcullis.toml")?;
            command.arg("run").arg("--config").arg(conf).env("PORTCULLIS_LOG", "warn").stdout(Stdio::piped());
            let mut gateway = Guard::spawn("portcullis", command)?;
            let stdout = gateway.stdout().ok_or("portcullis's stdout was not captured")?;
            let addr = process::await_line(stdout, "portcullis listening on http://", START)
                .map_err(|e| format!("portcullis did not start: {e} ({errors})"))?;
            let port = process::port_of(&addr)?;
            return Ok(Running::new(peer.name(), port, port, gateway, Vec::new()));
        }
    }
    let main = Guard::spawn(peer.name(), command)?;
    await_listening(peer, main, h1_port, h2_port, &errors)
}

/// `base.<ext>` with the config's files pasted in and placeholders filled, written to `dir`.
fn write_config(
    peer: Peer,
    config: &str,
    values: &[(&str, String)],
    dir: &Path,
    file: &str,
) -> Result<PathBuf, String> {
    let source = portcullis_testkit::plugins::workspace_root().join("benches/peers").join(peer.dir());
    let read = |name: &str| {
        let path = source.join(name);
        std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let ext = peer.extension();
    let http_part = source.join(format!("{config}.http.{ext}"));
    let http = if http_part.is_file() { read(&format!("{config}.http.{ext}"))? } else { String::new() };
    let pasted = read(&format!("base.{ext}"))?
        .replace("{{scenario_http}}", &http)
        .replace("{{scenario}}", &read(&format!("{config}.{ext}"))?);
    let text = fill(&pasted, values).map_err(|e| format!("{}/{config}: {e}", source.display()))?;
    let path = dir.join(file);
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// Waits until both ports accept connections and, for nginx, its worker runs.
fn await_listening(peer: Peer, mut main: Guard, h1: u16, h2: u16, errors: &str) -> Result<Running, String> {
    let start = Instant::now();
    loop {
        if let Some(status) = main.exited()? {
            return Err(format!("{} exited at start ({status}); {errors}", peer.name()));
        }
        let listening = [h1, h2].iter().all(|&port| TcpStream::connect(("127.0.0.1", port)).is_ok());
        let workers = cpu::children(main.pid());
        let needs_worker = matches!(peer, Peer::Nginx | Peer::NginxLua);
        if listening && (!needs_worker || !workers.is_empty()) {
            return Ok(Running::new(peer.name(), h1, h2, main, workers));
        }
        if start.elapsed() > START {
            return Err(format!(
                "{} did not listen on ports {h1}/{h2} within {} s; {errors}",
                peer.name(),
                START.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A port nothing listens on right now (the kernel's pick, released at once).
fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot bind 127.0.0.1:0: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| format!("no local address: {e}"))
}
