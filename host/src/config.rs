//! The gateway's TOML configuration: parsed once at start-up, checked completely, and
//! handed out as plain typed values so no later code re-validates anything.
//!
//! Every error names the file, line, column and key path of the offending value
//! (see [`ConfigError`]). Parsing runs in two steps: serde reads the file into the
//! private `raw` shape (syntax, types, unknown keys, units), then `lower` applies the
//! rules a type cannot express and builds [`Config`].

mod check;
mod error;
mod locate;
mod lower;
mod model;
mod raw;
pub(crate) mod shown;
mod tls;
mod units;

use std::collections::BTreeMap;
use std::path::Path;

pub use error::{ConfigError, Position};
pub use model::{
    Balance, CertificateConfig, Forwarding, Http2Config, Isolation, Limits, LogConfig, LogFormat, OnError, PluginRef,
    PluginSandbox, PoolConfig, RouteConfig, SandboxConfig, ScrubConfig, ServerConfig, Timeouts, TlsConfig,
    UpstreamConfig, UpstreamProtocol, UpstreamTls, XffMode, PER_REQUEST_MAX_MEMORY,
};
pub use units::{parse_duration, parse_size};

use locate::Locator;
use raw::RawConfig;

/// The whole configuration, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub server: ServerConfig,
    pub limits: Limits,
    pub timeouts: Timeouts,
    pub forwarding: Forwarding,
    pub scrub: ScrubConfig,
    pub pool: PoolConfig,
    pub sandbox: SandboxConfig,
    pub log: LogConfig,
    pub tls: TlsConfig,
    pub http2: Http2Config,
    /// Keyed by the name routes refer to; sorted, so logs and errors list them stably.
    pub upstreams: BTreeMap<String, UpstreamConfig>,
    /// In file order, which breaks ties between equally specific routes.
    pub routes: Vec<RouteConfig>,
}

impl Config {
    /// Parses and validates `src`. `origin` names the file in error messages.
    pub fn from_toml_str(src: &str, origin: &str) -> Result<Config, ConfigError> {
        let at = Locator { origin, src };
        let raw: RawConfig =
            serde_path_to_error::deserialize(toml::Deserializer::new(src)).map_err(|err| at.deserialize_error(err))?;
        lower::lower(raw, &at)
    }

    /// Reads the file at `path` and parses it with [`Config::from_toml_str`].
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let origin = path.display().to_string();
        let src = std::fs::read_to_string(path)
            .map_err(|err| ConfigError::whole_file(&origin, format!("cannot read config: {err}")))?;
        let mut config = Config::from_toml_str(&src, &origin)?;
        // A relative path means "next to this config file", wherever it is run from.
        let base = path.parent().unwrap_or(Path::new(""));
        let relative = |dir: &mut std::path::PathBuf| {
            if dir.is_relative() {
                *dir = base.join(&*dir);
            }
        };
        let server = &mut config.server;
        [&mut server.plugin_dir, &mut server.plugin_cache_dir, &mut server.handover]
            .into_iter()
            .flatten()
            .for_each(relative);
        for cert in &mut config.tls.certificates {
            relative(&mut cert.cert);
            relative(&mut cert.key);
        }
        for tls in config.upstreams.values_mut().filter_map(|u| u.tls.as_mut()) {
            [&mut tls.ca, &mut tls.client_cert, &mut tls.client_key].into_iter().flatten().for_each(relative);
        }
        Ok(config)
    }
}
