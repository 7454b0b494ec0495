//! The validated configuration sections handed to the rest of the host.
//!
//! Sections without cross-field rules (`limits`, `timeouts`, `forwarding`, `pool`)
//! deserialize straight into these types, so their defaults live in one place: the
//! `Default` impls below. Sections that need checks after parsing (`server`,
//! `upstreams`, `routes`) are read through `raw` and built by `lower`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::error::Position;
use super::units;

const KIB: usize = 1024;
const MIB: u64 = 1024 * 1024;

/// `[server]`: where and how the accept loops run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// Addresses to bind; never empty and without duplicates.
    pub listen: Vec<SocketAddr>,
    /// Worker threads; `None` means one per core.
    pub workers: Option<usize>,
    /// Connections served at once; beyond it a new connection gets 503 and is closed
    /// (or, during a flood of them, closed at once).
    pub max_connections: usize,
    /// `SO_REUSEPORT`, so a restarted gateway can bind while the old one drains.
    pub reuse_port: bool,
    /// Every `*.wasm` here is a plugin named after its file stem. Relative to the config
    /// file's directory.
    pub plugin_dir: Option<PathBuf>,
    /// Where compiled plugins are cached; `None` picks the user's cache directory.
    pub plugin_cache_dir: Option<PathBuf>,
    /// The admin listener (metrics, health, plugins, reload); off unless set, and only on a
    /// loopback address unless `admin_public = true`.
    pub admin: Option<SocketAddr>,
    /// A Unix socket where this gateway hands its listening sockets to a new process
    /// started with `run --upgrade` (zero-downtime restart). Relative to the config file.
    pub handover: Option<PathBuf>,
    /// Addresses that speak TLS (ALPN `h2`, then `http/1.1`) with the `[tls]` certificates.
    pub listen_tls: Vec<SocketAddr>,
    /// Cleartext listeners also serve HTTP/2 to clients that start with its preface
    /// (prior knowledge, "h2c"); HTTP/1.1 is served either way.
    pub h2c: bool,
}

impl ServerConfig {
    pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
    pub const DEFAULT_REUSE_PORT: bool = true;
}

/// `[limits]`: caps that bound the memory one client can make the gateway hold.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a [limits] table")]
pub struct Limits {
    pub max_headers: usize,
    #[serde(deserialize_with = "units::size")]
    pub max_head_bytes: usize,
    #[serde(deserialize_with = "units::size")]
    pub max_request_line: usize,
    #[serde(deserialize_with = "units::size")]
    pub max_body_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_headers: 100, max_head_bytes: 64 * KIB, max_request_line: 8 * KIB, max_body_bytes: 64 * MIB }
    }
}

/// `[timeouts]`: every wait on a peer is bounded, so a slow or silent peer cannot pin
/// a connection forever.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a [timeouts] table")]
pub struct Timeouts {
    /// Until the whole request head has arrived (slowloris defence).
    #[serde(deserialize_with = "units::duration")]
    pub header_read: Duration,
    /// Longest gap between two body reads from the client.
    #[serde(deserialize_with = "units::duration")]
    pub body_idle: Duration,
    /// Minimum average request-body rate in bytes/s; `None` (or 0) turns the check off.
    #[serde(deserialize_with = "units::rate")]
    pub body_min_rate: Option<u64>,
    #[serde(deserialize_with = "units::duration")]
    pub keepalive_idle: Duration,
    #[serde(deserialize_with = "units::duration")]
    pub upstream_connect: Duration,
    /// Until the upstream's response head has arrived.
    #[serde(deserialize_with = "units::duration")]
    pub upstream_response: Duration,
    /// Longest gap between two body reads from the upstream.
    #[serde(deserialize_with = "units::duration")]
    pub upstream_idle: Duration,
    /// An upgraded (WebSocket) tunnel with no traffic either way for this long is closed.
    #[serde(deserialize_with = "units::duration")]
    pub tunnel_idle: Duration,
    /// On SIGTERM/SIGINT: the longest wait for requests in flight before exiting anyway.
    #[serde(deserialize_with = "units::duration")]
    pub drain: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            header_read: Duration::from_secs(10),
            body_idle: Duration::from_secs(30),
            body_min_rate: None,
            keepalive_idle: Duration::from_secs(60),
            upstream_connect: Duration::from_secs(5),
            upstream_response: Duration::from_secs(60),
            upstream_idle: Duration::from_secs(60),
            tunnel_idle: Duration::from_secs(600),
            drain: Duration::from_secs(30),
        }
    }
}

/// `[log]`: how log lines are written, and whether every request gets an access-log line.
/// Read at start; a reload does not change it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a [log] table")]
pub struct LogConfig {
    pub format: LogFormat,
    /// One line per request (target `portcullis::access`, level info).
    pub access: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { format: LogFormat::Logfmt, access: true }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `time LEVEL target: message key=value ...`, one line per event.
    Logfmt,
    /// One JSON object per line, the event's fields at the top level.
    Json,
}

/// `[scrub]`: internal header names (`name` or `prefix*`, ASCII case-insensitive) removed
/// from every request before routing and plugins, and optionally from responses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScrubConfig {
    pub request_headers: Vec<portcullis_scrub::Pattern>,
    pub response_headers: Vec<portcullis_scrub::Pattern>,
}

/// `[forwarding]`: the headers that tell the upstream a proxy sits in between.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a [forwarding] table")]
pub struct Forwarding {
    pub x_forwarded_for: XffMode,
    pub x_forwarded_proto: bool,
    /// Pseudonym in the `Via` header we add; `""` in TOML turns the header off.
    #[serde(deserialize_with = "units::via")]
    pub via: Option<String>,
}

impl Default for Forwarding {
    fn default() -> Self {
        Forwarding { x_forwarded_for: XffMode::Append, x_forwarded_proto: true, via: Some("portcullis".to_owned()) }
    }
}

/// What to do with a client's `X-Forwarded-For`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum XffMode {
    /// Keep the client's list and add the peer address (behind a trusted edge).
    #[default]
    Append,
    /// Drop the client's list and send only the peer address (we are the edge).
    Replace,
    /// Neither read nor add the header.
    Off,
}

/// `[pool]`: idle upstream connections kept for reuse.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a [pool] table")]
pub struct PoolConfig {
    #[serde(deserialize_with = "units::duration")]
    pub idle_timeout: Duration,
    /// 0 disables pooling.
    pub max_idle_per_key: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig { idle_timeout: Duration::from_secs(60), max_idle_per_key: 32 }
    }
}

/// `[sandbox]`: what one plugin instance may use, with per-plugin overrides
/// (`[sandbox.plugins.NAME]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SandboxConfig {
    pub defaults: PluginSandbox,
    /// Overrides by plugin name, already merged with the defaults; each keeps its position
    /// for an unknown plugin name found at load.
    pub plugins: BTreeMap<String, (PluginSandbox, Position)>,
}

impl SandboxConfig {
    pub fn for_plugin(&self, plugin: &str) -> PluginSandbox {
        self.plugins.get(plugin).map_or(self.defaults, |(limits, _)| *limits)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PluginSandbox {
    /// Longest one phase call may run; beyond it the call traps (then `on_error` applies).
    pub cpu_deadline: Duration,
    /// Linear memory one instance may grow to; growth beyond fails inside the guest.
    pub memory: usize,
    /// Calls give their worker thread back at every epoch tick (so a slow call never
    /// stalls other requests); otherwise they run to the end (or the deadline) in one go.
    pub cooperative: bool,
    pub isolation: Isolation,
}

impl Default for PluginSandbox {
    fn default() -> Self {
        PluginSandbox {
            cpu_deadline: Duration::from_millis(100),
            memory: 64 * MIB as usize,
            cooperative: true,
            isolation: Isolation::Pooled,
        }
    }
}

/// The most linear memory a per-request instance may have: every one of its slots reserves
/// this much address space up front.
pub const PER_REQUEST_MAX_MEMORY: usize = 256 * MIB as usize;

/// What a plugin's calls may share through guest memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Isolation {
    /// Instances are reused from call to call (a plugin may keep caches in memory).
    #[default]
    Pooled,
    /// Every call gets a fresh instance (copy-on-write from the component's image, its
    /// config applied anew): nothing one request leaves in memory reaches another.
    PerRequest,
}

/// `[tls]`: certificates for the TLS listeners, chosen by the client's SNI name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsConfig {
    pub certificates: Vec<CertificateConfig>,
}

/// One `[[tls.certificates]]` entry. The files are read when the snapshot is built (start
/// and every reload), so a renewed certificate takes effect with a reload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateConfig {
    /// PEM chain, leaf first. Relative to the config file.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1). Relative to the config file.
    pub key: PathBuf,
    /// Lowercased SNI names served with it: exact (`example.com`) or `*.example.com`.
    pub names: Vec<String>,
    /// Served to clients without SNI or with a name no entry lists (else the first entry is).
    pub default: bool,
    /// Where the entry is, for errors found when its files are read.
    pub at: Position,
}

/// `[http2]`: HTTP/2 settings for clients, with the limits that make its attacks cheap to refuse.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "an [http2] table")]
pub struct Http2Config {
    /// Streams a client may have open at once (at most 128).
    pub max_concurrent_streams: u32,
    /// Largest decoded header list (names + values + 32 bytes per field) of a request.
    #[serde(deserialize_with = "units::size")]
    pub max_header_list_size: usize,
    /// Flow-control window of one stream: what a client may send before we read.
    #[serde(deserialize_with = "units::size")]
    pub stream_window: usize,
    /// Flow-control window of the whole connection.
    #[serde(deserialize_with = "units::size")]
    pub connection_window: usize,
    /// Streams a client may reset before their response is complete, per connection and
    /// 10 seconds; beyond it the connection ends with GOAWAY (rapid reset, CVE-2023-44487).
    pub max_resets: u32,
}

impl Http2Config {
    pub const MAX_CONCURRENT_STREAMS_LIMIT: u32 = 128;
}

impl Default for Http2Config {
    fn default() -> Self {
        Http2Config {
            max_concurrent_streams: 100,
            max_header_list_size: 64 * KIB,
            stream_window: 256 * KIB,
            connection_window: 1024 * KIB,
            max_resets: 200,
        }
    }
}

/// `[upstreams.NAME]`: a set of interchangeable origin servers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamConfig {
    /// `host:port` strings, never empty; resolved at connect time so DNS changes apply.
    pub endpoints: Vec<String>,
    pub balance: Balance,
    /// Endpoints tried for one request, at least 1; defaults to `min(3, endpoints)`.
    pub max_attempts: u32,
    pub protocol: UpstreamProtocol,
    /// `tls = { … }`: TLS to every endpoint.
    pub tls: Option<UpstreamTls>,
}

/// What an upstream speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamProtocol {
    /// HTTP/1.1, one request at a time per pooled connection (over TLS with ALPN `http/1.1`).
    #[default]
    Http1,
    /// HTTP/2 over TLS (ALPN `h2`), many requests multiplexed on one pooled connection.
    H2,
    /// HTTP/2 over cleartext TCP by prior knowledge.
    H2c,
}

impl UpstreamProtocol {
    pub fn is_h2(self) -> bool {
        matches!(self, UpstreamProtocol::H2 | UpstreamProtocol::H2c)
    }
}

/// TLS towards an upstream's endpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamTls {
    /// PEM roots to verify the origin against; `None` uses the webpki (Mozilla) roots.
    pub ca: Option<PathBuf>,
    /// Name sent as SNI and verified in the certificate; `None` uses each endpoint's host.
    pub sni: Option<String>,
    /// A client certificate chain and key (both or neither), for origins that ask for one.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub at: Position,
}

impl UpstreamConfig {
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
}

/// How an upstream spreads requests over its endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Balance {
    #[default]
    RoundRobin,
}

/// `[[routes]]`: which requests go to which upstream; see [`crate::route::Router`] for
/// how overlapping routes are ranked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteConfig {
    /// Lowercased exact host (`api.example.com`) or wildcard (`*.example.com`).
    pub host: Option<String>,
    /// Starts with `/`; matched as a byte prefix of the request path.
    pub path_prefix: String,
    /// Uppercased method tokens; `None` matches every method.
    pub methods: Option<Vec<String>>,
    /// A key of [`super::Config::upstreams`].
    pub upstream: String,
    /// Lowercased `Upgrade` protocols tunnelled on this route, e.g. `websocket`.
    pub allow_upgrade: Vec<String>,
    /// For logs and plugins: the configured `name`, else `routes[INDEX]`.
    pub name: String,
    /// The plugin chain, in call order.
    pub plugins: Vec<PluginRef>,
}

/// One plugin of a route's chain, with its config for the plugin's `configure`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginRef {
    /// A file stem in `server.plugin_dir`.
    pub name: String,
    /// The route's `config = { … }` table as JSON, the form plugins receive.
    pub config_json: String,
    pub on_error: OnError,
    /// Where the entry's `config` is in the file (its `name` when it has none), for a config
    /// the plugin rejects when it loads.
    pub at: Position,
    /// Where its `name` is, for an unknown plugin.
    pub name_at: Position,
}

/// What a failing plugin (a trap, a panic) does to the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnError {
    /// The request fails with 500: a broken WAF must not wave attacks through.
    #[default]
    FailClosed,
    /// The plugin is skipped (and the failure logged): for plugins whose absence is harmless.
    FailOpen,
}
