//! The plugin runtime: WebAssembly components implementing `wit/portcullis.wit`, loaded
//! from `server.plugin_dir` and chained per route.
//!
//! - `engine`: the one wasmtime engine, compile once, cache on disk by sha256 + settings.
//! - `load`: a plugin file → a checked component (world, version, imports) or a clear error.
//! - `instance`: per plugin, a pool of configured instances; a phase call moves the request
//!   into the store and back, so no header is copied unless the guest asks for it.
//! - `host_api`: the functions guests call (headers, variables, counters, log, clock).
//! - `chain`: a route's ordered plugins, the fail-open/fail-closed policy, short-circuits.

mod bindings;
mod chain;
mod cooperation;
mod counters;
mod dispatch;
mod engine;
mod host_api;
mod instance;
mod lane;
mod load;
mod vars;
mod wasi;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use portcullis_abi::rules;

use crate::config::{Config, ConfigError};

pub use chain::Chain;
pub use chain::{LogSummary, Outcome};
pub use instance::CallCtx;
use instance::{LoadFailure, LoadedPlugin};
pub use load::PluginFileError;
pub use vars::Vars;

/// The contract version this host implements.
pub const WIT_PACKAGE: &str = "portcullis:gateway@0.1.0";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    OnRequest,
    SelectUpstream,
    OnUpstreamRequest,
    OnResponse,
    OnLog,
}

impl Phase {
    pub const ALL: [Phase; 5] =
        [Phase::OnRequest, Phase::SelectUpstream, Phase::OnUpstreamRequest, Phase::OnResponse, Phase::OnLog];

    pub fn name(self) -> &'static str {
        match self {
            Phase::OnRequest => "on-request",
            Phase::SelectUpstream => "select-upstream",
            Phase::OnUpstreamRequest => "on-upstream-request",
            Phase::OnResponse => "on-response",
            Phase::OnLog => "on-log",
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl From<bindings::portcullis::gateway::types::Phase> for Phase {
    fn from(phase: bindings::portcullis::gateway::types::Phase) -> Phase {
        use bindings::portcullis::gateway::types::Phase as W;
        match phase {
            W::OnRequest => Phase::OnRequest,
            W::SelectUpstream => Phase::SelectUpstream,
            W::OnUpstreamRequest => Phase::OnUpstreamRequest,
            W::OnResponse => Phase::OnResponse,
            W::OnLog => Phase::OnLog,
        }
    }
}

/// The phases a plugin (or a chain) takes part in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhaseSet(u8);

impl PhaseSet {
    pub fn contains(self, phase: Phase) -> bool {
        self.0 & phase.bit() != 0
    }

    pub fn names(self) -> Vec<&'static str> {
        Phase::ALL.into_iter().filter(|p| self.contains(*p)).map(Phase::name).collect()
    }

    pub fn union(self, other: PhaseSet) -> PhaseSet {
        PhaseSet(self.0 | other.0)
    }
}

impl FromIterator<Phase> for PhaseSet {
    fn from_iter<I: IntoIterator<Item = Phase>>(iter: I) -> PhaseSet {
        PhaseSet(iter.into_iter().fold(0, |bits, phase| bits | phase.bit()))
    }
}

pub(crate) enum Decision {
    Continue,
    Reply(PluginReply),
}

/// A response a plugin made instead of the origin's. Checked by the chain (a bad one is
/// the plugin's failure, under its `on_error`) and framed by the proxy (`proxy::reply`).
#[derive(Debug)]
pub struct PluginReply {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Bytes,
}

impl PluginReply {
    /// A reply that cannot be sent as it is: a status outside 200..=999, a name that is not
    /// a token, a value with a control character.
    pub(crate) fn problem(&self) -> Option<String> {
        if !(200..=999).contains(&self.status) {
            return Some(format!("replied with status {}, outside 200..=999", self.status));
        }
        for (name, value) in &self.headers {
            if !rules::valid_name(name.as_bytes()) {
                return Some(format!("replied with an invalid header name {name:?}"));
            }
            if !rules::valid_value(value) {
                return Some(format!("replied with a control character in the value of `{name}`"));
            }
        }
        None
    }
}

/// Why the plugins of a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A route's plugin entry is wrong (unknown name, a config the plugin rejected).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A file in the plugin directory is not a usable plugin.
    #[error(transparent)]
    File(#[from] PluginFileError),
}

/// Every plugin of the plugin directory, and each route's chain.
pub struct Plugins {
    by_name: BTreeMap<String, Arc<LoadedPlugin>>,
    /// `chains[i]` belongs to `config.routes[i]`.
    chains: Vec<Chain>,
}

/// What `/plugins` (and `portcullis check`) can say about a loaded plugin.
#[derive(Clone, Debug)]
pub struct PluginInfo {
    pub name: String,
    pub file: PathBuf,
    pub sha256: String,
    pub phases: Vec<&'static str>,
    pub failures: u64,
}

impl Plugins {
    /// Loads every plugin of `server.plugin_dir`, configures each (route, plugin) pair
    /// through the plugin's `configure`, and builds the chains.
    pub fn load(config: &Config) -> Result<Plugins, LoadError> {
        let cache_dir = config.server.plugin_cache_dir.clone().or_else(engine::default_cache_dir);
        let mut checked = BTreeMap::new();
        if let Some(dir) = &config.server.plugin_dir {
            for file in load::plugin_files(dir)? {
                let name = load::plugin_name(&file)?;
                let isolation = config.sandbox.for_plugin(&name).isolation;
                let plugin = load::check(&file, name, isolation, cache_dir.as_deref())?;
                checked.insert(plugin.name.clone(), plugin);
            }
        }

        for (name, (_, at)) in &config.sandbox.plugins {
            if !checked.contains_key(name) {
                return Err(unknown_plugin(config, name, at, &checked).into());
            }
        }

        // Every route entry naming a plugin becomes one config of that plugin.
        let mut configs: BTreeMap<&str, Vec<&crate::config::PluginRef>> = BTreeMap::new();
        for route in &config.routes {
            for entry in &route.plugins {
                if !checked.contains_key(&entry.name) {
                    return Err(unknown_plugin(config, &entry.name, &entry.name_at, &checked).into());
                }
                configs.entry(&entry.name).or_default().push(entry);
            }
        }

        let mut by_name = BTreeMap::new();
        for (name, plugin) in checked {
            let entries = configs.remove(name.as_str()).unwrap_or_default();
            let file = plugin.file.clone();
            let jsons = entries.iter().map(|e| e.config_json.clone()).collect();
            let limits = config.sandbox.for_plugin(&name);
            let loaded = LoadedPlugin::new(plugin, jsons, limits).map_err(|failure| match failure {
                LoadFailure::Rejected(r) => LoadError::Config(
                    entries[r.config].at.error(format!("plugin `{name}` rejected its config: {}", r.message)),
                ),
                LoadFailure::Trap(message) => {
                    LoadError::File(PluginFileError { file, message: format!("failed while loading: {message}") })
                }
            })?;
            by_name.insert(name, Arc::new(loaded));
        }

        let mut next_config: BTreeMap<&str, usize> = BTreeMap::new();
        let chains = config
            .routes
            .iter()
            .map(|route| {
                let links: Vec<chain::Link> = route
                    .plugins
                    .iter()
                    .filter_map(|entry| {
                        let plugin = by_name.get(&entry.name)?.clone();
                        let index = next_config.entry(&entry.name).or_default();
                        let link = chain::Link { plugin, config: *index, on_error: entry.on_error };
                        *index += 1;
                        Some(link)
                    })
                    .collect();
                let phases = links.iter().fold(PhaseSet::default(), |set, l| set.union(l.plugin.phases));
                Chain { links, phases, route: Arc::from(route.name.as_str()) }
            })
            .collect();
        Ok(Plugins { by_name, chains })
    }

    /// The chain of `config.routes[index]`.
    pub fn chain(&self, route: usize) -> Option<&Chain> {
        self.chains.get(route)
    }

    pub fn info(&self) -> Vec<PluginInfo> {
        self.by_name
            .values()
            .map(|p| PluginInfo {
                name: p.name.to_string(),
                file: p.file.clone(),
                sha256: engine::hex(&p.sha256),
                phases: p.phases.names(),
                failures: p.failures.load(std::sync::atomic::Ordering::Relaxed),
            })
            .collect()
    }
}

fn unknown_plugin(
    config: &Config,
    name: &str,
    at: &crate::config::Position,
    found: &BTreeMap<String, load::Checked>,
) -> ConfigError {
    let message = match &config.server.plugin_dir {
        None => format!("unknown plugin `{name}`: set `server.plugin_dir` to the directory holding {name}.wasm"),
        Some(dir) if found.is_empty() => format!("unknown plugin `{name}`: {} holds no .wasm files", dir.display()),
        Some(dir) => {
            let names: Vec<&str> = found.keys().map(String::as_str).collect();
            format!("unknown plugin `{name}`: no {name}.wasm in {} (found: {})", dir.display(), names.join(", "))
        }
    };
    at.error(message)
}
