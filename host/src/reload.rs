//! Reloading a running gateway: on SIGHUP, and when the config file or a file of the plugin
//! directory changes (polled once a second: no watcher dependency, and a file still being
//! copied in simply fails one reload and succeeds on the next tick).
//!
//! A reload builds a whole new snapshot off the request path and swaps it in
//! (`Gateway::reload`); one that fails to build is logged and the running snapshot stays.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::{Config, Gateway};

const POLL: Duration = Duration::from_secs(1);

/// Runs until the task is dropped.
pub(crate) async fn on_change(gateway: &Gateway, config_path: &Path) {
    let mut hangup = hangup_signal();
    let mut seen = fingerprint(config_path, plugin_dir(gateway).as_deref());
    let mut tick = tokio::time::interval(POLL);
    loop {
        let why = tokio::select! {
            _ = tick.tick() => {
                let now = fingerprint(config_path, plugin_dir(gateway).as_deref());
                if now == seen {
                    continue;
                }
                seen = now;
                "a watched file changed"
            }
            _ = recv(&mut hangup) => "SIGHUP",
        };
        reload(gateway, config_path, why).await;
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

fn plugin_dir(gateway: &Gateway) -> Option<PathBuf> {
    gateway.snapshot().config().server.plugin_dir.clone()
}

/// Name, size and modification time of the config file and of every `*.wasm` in the plugin
/// directory: any change in either means "reload".
fn fingerprint(config_path: &Path, plugin_dir: Option<&Path>) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let stat = |path: PathBuf| {
        let meta = std::fs::metadata(&path).ok();
        let len = meta.as_ref().map_or(0, std::fs::Metadata::len);
        let modified = meta.and_then(|m| m.modified().ok());
        (path, len, modified)
    };
    let mut files = vec![stat(config_path.to_owned())];
    if let Some(dir) = plugin_dir {
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

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = ();

#[cfg(unix)]
fn hangup_signal() -> Hangup {
    use tokio::signal::unix::{signal, SignalKind};
    signal(SignalKind::hangup()).inspect_err(|err| tracing::warn!(error = %err, "no SIGHUP reloads")).ok()
}

#[cfg(not(unix))]
fn hangup_signal() -> Hangup {}

/// The next SIGHUP; never, where there is none.
async fn recv(hangup: &mut Hangup) {
    #[cfg(unix)]
    if let Some(signal) = hangup {
        signal.recv().await;
        return;
    }
    let _ = hangup;
    std::future::pending::<()>().await
}
