//! The file's shape as serde reads it, before the checks in `lower`.
//!
//! Values that are checked after parsing are `Spanned`, so a failed check can still
//! point at the exact line and column of the value.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::model::{
    Balance, Forwarding, Http2Config, Limits, LogConfig, OnError, PoolConfig, Timeouts, UpstreamProtocol,
};
use super::units;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub server: RawServer,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub timeouts: Timeouts,
    #[serde(default)]
    pub forwarding: Forwarding,
    #[serde(default)]
    pub scrub: RawScrub,
    #[serde(default)]
    pub pool: PoolConfig,
    #[serde(default)]
    pub sandbox: RawSandbox,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub tls: RawTls,
    pub http2: Option<Spanned<Http2Config>>,
    pub upstreams: BTreeMap<String, RawUpstream>,
    pub routes: Spanned<Vec<RawRoute>>,
}

/// `[sandbox]` defaults and `[sandbox.plugins.NAME]` overrides; absent keys fall back.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [sandbox] table")]
pub(crate) struct RawSandbox {
    #[serde(default, deserialize_with = "units::some_duration")]
    pub cpu_deadline: Option<std::time::Duration>,
    #[serde(default, deserialize_with = "units::some_size")]
    pub memory: Option<usize>,
    #[serde(default)]
    pub cooperative: Option<bool>,
    #[serde(default)]
    pub isolation: Option<super::model::Isolation>,
    #[serde(default)]
    pub plugins: BTreeMap<String, Spanned<RawPluginSandbox>>,
}

/// The settings of `RawSandbox` again: serde's `flatten` does not mix with
/// `deny_unknown_fields`, and one recursive type for both levels trips toml's span handling.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table such as { cpu_deadline = \"50ms\" }")]
pub(crate) struct RawPluginSandbox {
    #[serde(default, deserialize_with = "units::some_duration")]
    pub cpu_deadline: Option<std::time::Duration>,
    #[serde(default, deserialize_with = "units::some_size")]
    pub memory: Option<usize>,
    #[serde(default)]
    pub cooperative: Option<bool>,
    #[serde(default)]
    pub isolation: Option<super::model::Isolation>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [scrub] table")]
pub(crate) struct RawScrub {
    #[serde(default)]
    pub request_headers: Vec<Spanned<String>>,
    #[serde(default)]
    pub response_headers: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [server] table")]
pub(crate) struct RawServer {
    pub listen: Spanned<Vec<Spanned<String>>>,
    pub workers: Option<Spanned<usize>>,
    pub max_connections: Option<Spanned<usize>>,
    pub reuse_port: Option<bool>,
    pub plugin_dir: Option<Spanned<String>>,
    pub plugin_cache_dir: Option<Spanned<String>>,
    pub admin: Option<Spanned<String>>,
    pub admin_public: Option<bool>,
    pub handover: Option<Spanned<String>>,
    pub listen_tls: Option<Spanned<Vec<Spanned<String>>>>,
    pub h2c: Option<bool>,
}

/// `[tls]`: the certificates TLS listeners present.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [tls] table")]
pub(crate) struct RawTls {
    #[serde(default)]
    pub certificates: Vec<Spanned<RawCertificate>>,
}

/// One `[[tls.certificates]]` entry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [[tls.certificates]] table")]
pub(crate) struct RawCertificate {
    pub cert: Spanned<String>,
    pub key: Spanned<String>,
    pub names: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub default: bool,
}

/// `tls = { … }` of an upstream; its presence turns TLS on.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table such as { ca = \"internal-ca.pem\" }")]
pub(crate) struct RawUpstreamTls {
    pub ca: Option<Spanned<String>>,
    pub sni: Option<Spanned<String>>,
    pub client_cert: Option<Spanned<String>>,
    pub client_key: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an [upstreams.NAME] table")]
pub(crate) struct RawUpstream {
    pub endpoints: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub balance: Balance,
    pub max_attempts: Option<Spanned<u32>>,
    pub protocol: Option<Spanned<UpstreamProtocol>>,
    pub tls: Option<Spanned<RawUpstreamTls>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [[routes]] table")]
pub(crate) struct RawRoute {
    /// Omitted `match` matches every request.
    #[serde(rename = "match", default)]
    pub matcher: RawMatch,
    pub upstream: Spanned<String>,
    #[serde(default)]
    pub allow_upgrade: Vec<Spanned<String>>,
    pub name: Option<Spanned<String>>,
    #[serde(default)]
    pub plugins: Vec<RawPluginRef>,
}

/// One entry of a route's `plugins = [ … ]` chain.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table such as { name = \"waf\", config = { … } }")]
pub(crate) struct RawPluginRef {
    pub name: Spanned<String>,
    pub config: Option<Spanned<toml::Table>>,
    #[serde(default)]
    pub on_error: OnError,
}

/// The `match = { ... }` inline table; flattened into `RouteConfig` by `lower`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table such as { path_prefix = \"/\" }")]
pub(crate) struct RawMatch {
    pub host: Option<Spanned<String>>,
    pub path_prefix: Option<Spanned<String>>,
    pub methods: Option<Spanned<Vec<Spanned<String>>>>,
}
