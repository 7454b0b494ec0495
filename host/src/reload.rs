//! Reloading a running gateway: on SIGHUP, and when the config file, a file of the plugin
//! directory or a TLS file it names (certificates, keys, CAs: a renewal) changes (polled
//! once a second: no watcher dependency, and a file still being copied in simply fails one
//! reload and succeeds on the next tick).
//!
//! A reload builds a whole new snapshot off the request path and swaps it in
//! (`Gateway::reload`); one that fails to build is logged and the running snapshot stays.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::signals::Hangup;
use crate::{Config, Gateway};

const POLL: Duration = Duration::from_secs(1);

/// Watches for a reason to reload. Made before the gateway announces itself, so that a
/// change (or a SIGHUP) right after the "listening" lines is not missed: the baseline
/// fingerprint and the signal handler are taken here, not on the first poll.
pub(crate) struct Watcher {
    config_path: PathBuf,
    seen: Fingerprint,
    hangup: Hangup,
}

impl Watcher {
    pub(crate) fn new(gateway: &Gateway, config_path: &Path) -> Self {
        let hangup = Hangup::install();
        Self { config_path: config_path.to_owned(), seen: fingerprint(config_path, &watched(gateway)), hangup }
    }

    /// Reloads on every change and SIGHUP; runs until the task is dropped.
    pub(crate) async fn run(mut self, gateway: &Gateway) {
        let mut tick = tokio::time::interval(POLL);
        loop {
            let why = tokio::select! {
                _ = tick.tick() => {
                    let now = fingerprint(&self.config_path, &watched(gateway));
                    if now == self.seen {
                        continue;
                    }
                    self.seen = now;
                    "a watched file changed"
                }
                () = self.hangup.recv() => "SIGHUP",
            };
            reload(gateway, &self.config_path, why).await;
        }
    }
}

async fn reload(gateway: &Gateway, config_path: &Path, why: &str) {
    let config = match Config::load(config_path) {
        Ok(config) => config,
        Err(err) => {
            tracing::error!(why, error = %err, "reload rejected; still serving the previous config");
            return;
        }
    };
    match gateway.reload(config).await {
        Ok(()) => tracing::info!(why, config = %config_path.display(), "reloaded"),
        Err(err) => {
            tracing::error!(why, error = %format!("{err:#}"), "reload rejected; still serving the previous config")
        }
    }
}

/// What the running config points at: its plugin directory and its TLS files.
struct Watched {
    plugin_dir: Option<PathBuf>,
    tls_files: Vec<PathBuf>,
}

fn watched(gateway: &Gateway) -> Watched {
    let snapshot = gateway.snapshot();
    let config = snapshot.config();
    let mut tls_files: Vec<PathBuf> =
        config.tls.certificates.iter().flat_map(|c| [c.cert.clone(), c.key.clone()]).collect();
    for tls in config.upstreams.values().filter_map(|u| u.tls.as_ref()) {
        tls_files.extend([&tls.ca, &tls.client_cert, &tls.client_key].into_iter().flatten().cloned());
    }
    Watched { plugin_dir: config.server.plugin_dir.clone(), tls_files }
}

/// Per file: name, size, modification time and inode (a file replaced by a rename, as
/// certificate renewals do, may keep the size and, within the clock's granularity, the time).
type Fingerprint = Vec<(PathBuf, u64, Option<SystemTime>, u64)>;

/// The config file, every `*.wasm` in the plugin directory and the TLS files: any change
/// means "reload".
fn fingerprint(config_path: &Path, watched: &Watched) -> Fingerprint {
    let stat = |path: PathBuf| {
        let meta = std::fs::metadata(&path).ok();
        let len = meta.as_ref().map_or(0, std::fs::Metadata::len);
        let inode = meta.as_ref().map_or(0, std::os::unix::fs::MetadataExt::ino);
        let modified = meta.and_then(|m| m.modified().ok());
        (path, len, modified, inode)
    };
    let mut files = vec![stat(config_path.to_owned())];
    files.extend(watched.tls_files.iter().cloned().map(stat));
    if let Some(dir) = &watched.plugin_dir {
        let mut wasm: Vec<PathBuf> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "wasm"))
            .collect();
        wasm.sort();
        files.extend(wasm.into_iter().map(stat));
    }
    files
}
