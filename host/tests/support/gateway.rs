//! Starts the real gateway in-process from a TOML snippet.

use std::net::SocketAddr;

use portcullis::{Config, Gateway};

pub struct TestGateway {
    pub gateway: Gateway,
    pub addr: SocketAddr,
}

impl TestGateway {
    /// `toml` is a full config except `[server]`, which is filled in (listen on 127.0.0.1:0)
    /// unless the snippet has its own.
    pub async fn start(toml: &str) -> TestGateway {
        let src = if toml.contains("[server]") {
            toml.to_owned()
        } else {
            format!("[server]\nlisten = [\"127.0.0.1:0\"]\n{toml}")
        };
        let config = Config::from_toml_str(&src, "test.toml").unwrap_or_else(|e| panic!("{e}\n---\n{src}"));
        let gateway = Gateway::start(config).await.unwrap();
        let addr = gateway.local_addrs()[0];
        TestGateway { gateway, addr }
    }

    /// A gateway with one route `/` to one upstream `app` at `origin`, plus `extra` TOML.
    pub async fn in_front_of(origin: SocketAddr, extra: &str) -> TestGateway {
        TestGateway::start(&format!(
            "{extra}\n[upstreams.app]\nendpoints = [\"{origin}\"]\n[[routes]]\nmatch = {{ path_prefix = \"/\" }}\nupstream = \"app\"\n"
        ))
        .await
    }

    pub async fn client(&self) -> super::Client {
        super::Client::connect(self.addr).await
    }

    /// A gateway loading the plugins of `dir`; `toml` is everything but `[server]`.
    pub async fn with_plugins(dir: &super::PluginDir, toml: &str) -> TestGateway {
        TestGateway::start(&format!("[server]\nlisten = [\"127.0.0.1:0\"]\n{}{toml}", dir.server_keys())).await
    }

    /// One request with extra header lines (each ending in `\r\n`), on a fresh connection.
    pub async fn request(&self, method: &str, path: &str, headers: &str) -> super::Response {
        let mut c = self.client().await;
        if method == "HEAD" {
            c.head_request = true;
        }
        c.send(format!("{method} {path} HTTP/1.1\r\nHost: test\r\n{headers}\r\n").as_bytes()).await;
        c.response().await
    }

    /// One request on a fresh connection, `Connection: close` style.
    pub async fn get(&self, path: &str) -> super::Response {
        let mut c = self.client().await;
        c.send(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes()).await;
        c.response().await
    }
}

// === the real binary as a child process ===

/// A file under the system temp dir, unique to this test run, removed on drop.
pub struct TempFile {
    pub path: std::path::PathBuf,
}

impl TempFile {
    pub fn new(name: &str, contents: &str) -> TempFile {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::time::{SystemTime, UNIX_EPOCH};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
        let unique =
            format!("portcullis-test-{}-{nanos}-{}-{name}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
        let path = std::env::temp_dir().join(unique);
        std::fs::write(&path, contents).unwrap();
        TempFile { path }
    }

    pub fn display(&self) -> String {
        self.path.display().to_string()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The `portcullis` binary built for this test run.
pub fn binary() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
}

/// `portcullis run --config <toml>` as a child process. Dropping it kills that child (by its
/// PID, via the `Child` handle) and reaps it, so a panicking test leaves nothing behind.
pub struct GatewayProcess {
    child: std::process::Child,
    pub addr: SocketAddr,
    config: TempFile,
    /// Its log lines, in the order it wrote them, when started with `start_with_log`.
    log: Option<std::sync::mpsc::Receiver<String>>,
    /// The admin listener's address, when `server.admin` is set.
    pub admin: Option<SocketAddr>,
    /// The `listening on https://` lines that follow the first listener's.
    tls_lines: std::sync::mpsc::Receiver<String>,
}

impl GatewayProcess {
    /// Starts the gateway and waits for its `portcullis listening on http://ADDR` line.
    pub fn start(toml: &str) -> GatewayProcess {
        GatewayProcess::spawn(toml, false, &[])
    }

    /// Like `start`, with its log (warnings and errors) readable by `log_line`.
    pub fn start_with_log(toml: &str) -> GatewayProcess {
        GatewayProcess::spawn(toml, true, &[])
    }

    /// `run --upgrade`: takes over from the gateway serving the config's `server.handover`.
    pub fn start_upgrade(toml: &str) -> GatewayProcess {
        GatewayProcess::spawn(toml, false, &["--upgrade"])
    }

    fn spawn(toml: &str, capture_log: bool, extra: &[&str]) -> GatewayProcess {
        use std::io::BufRead;
        use std::process::Stdio;
        let config = TempFile::new("gateway.toml", toml);
        let mut child = binary()
            .args(["run", "--config"])
            .arg(&config.path)
            .args(extra)
            // Warnings and errors, and with a captured log the access lines too.
            .env("PORTCULLIS_LOG", if capture_log { "warn,portcullis::access=info" } else { "warn" })
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(if capture_log { Stdio::piped() } else { Stdio::inherit() })
            .spawn()
            .unwrap();
        let log = child.stderr.take().map(|stderr| {
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stderr).lines() {
                    let Ok(line) = line else { return };
                    eprintln!("{line}");
                    let _ = tx.send(line);
                }
            });
            rx
        });
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let (tls_tx, tls_lines) = std::sync::mpsc::channel();
        // Keeps draining stdout after the address line so the child never blocks on a full pipe.
        // The admin line (if any) comes first: it is sent along with the listening line.
        std::thread::spawn(move || {
            let mut admin = None;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if let Some(rest) = line.strip_prefix("portcullis admin on http://") {
                    admin = rest.split_whitespace().next().map(str::to_owned);
                }
                if let Some(addr) = line.strip_prefix("portcullis listening on http://") {
                    let _ = tx.send((addr.trim().to_owned(), admin.clone()));
                }
                if let Some(addr) = line.strip_prefix("portcullis listening on https://") {
                    let _ = tls_tx.send(addr.trim().to_owned());
                }
            }
        });
        let addr = SocketAddr::from(([0, 0, 0, 0], 0));
        let mut process = GatewayProcess { child, addr, config, log, admin: None, tls_lines };
        let line = rx.recv_timeout(std::time::Duration::from_secs(30));
        let (line, admin) = line.unwrap_or_else(|e| {
            panic!("gateway printed no listening line ({e}); exit status {:?}", process.child.try_wait())
        });
        process.addr = line.parse().unwrap_or_else(|e| panic!("bad listening address {line:?}: {e}"));
        process.admin = admin.map(|a| a.parse().unwrap_or_else(|e| panic!("bad admin address {a:?}: {e}")));
        process
    }

    /// The address of its first TLS listener (`server.listen_tls`).
    pub fn tls_addr(&self) -> SocketAddr {
        let line = self.tls_lines.recv_timeout(std::time::Duration::from_secs(30)).expect("a TLS listening line");
        line.parse().unwrap_or_else(|e| panic!("bad listening address {line:?}: {e}"))
    }

    /// The next line of its log that contains `needle` (earlier lines are skipped); panics
    /// after 30 s without one.
    pub fn log_line(&self, needle: &str) -> String {
        self.first_log_line(&[needle]).1
    }

    /// Which of `needles` shows up first in the rest of its log, and that line.
    pub fn first_log_line(&self, needles: &[&str]) -> (usize, String) {
        let log = self.log.as_ref().expect("started without start_with_log");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match log.recv_timeout(left) {
                Ok(line) => {
                    if let Some(found) = needles.iter().position(|needle| line.contains(needle)) {
                        return (found, line);
                    }
                }
                Err(e) => panic!("no log line containing any of {needles:?} ({e})"),
            }
        }
    }

    /// Sends a signal (`TERM`, `HUP`, ...) to the gateway, by its PID.
    pub fn signal(&self, name: &str) {
        let sent = std::process::Command::new("kill").arg(format!("-{name}")).arg(self.pid().to_string()).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -{name} failed");
    }

    /// Its exit status, waiting at most `within` for it to exit.
    pub fn exit_status(&mut self, within: std::time::Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if std::time::Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The config file it runs with (rewrite it to test reloads).
    pub fn config_path(&self) -> &std::path::Path {
        &self.config.path
    }

    /// Peak resident set size so far (`VmHWM`), in bytes.
    pub fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("no VmHWM in /proc/PID/status");
        let kib: u64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().unwrap();
        kib * 1024
    }

    pub async fn client(&self) -> super::Client {
        super::Client::connect(self.addr).await
    }

    /// A request to its admin listener (`server.admin`).
    pub async fn admin(&self, method: &str, path: &str) -> super::Response {
        let addr = self.admin.expect("started with server.admin");
        let mut client = super::Client::connect(addr).await;
        client.send(format!("{method} {path} HTTP/1.1\r\nHost: admin\r\nContent-Length: 0\r\n\r\n").as_bytes()).await;
        client.response().await
    }
}

/// The value of one sample line of `/metrics` (`name{labels} value`), 0 if absent.
pub fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .map_or(0.0, |value| value.trim().parse().unwrap())
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
