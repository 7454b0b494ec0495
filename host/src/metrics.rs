//! Prometheus metrics for the process (`prometheus-client`), served by the admin listener.
//! Families are process-wide, like the engine: a reload keeps counting in the same series.
//! Values that already live elsewhere (pool counters, open connections) are read at scrape
//! time instead of being counted twice.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub route: String,
    /// `GET`, `HEAD`, `POST`, `PUT`, `DELETE`, `PATCH`, `OPTIONS`, else `other` (bounded
    /// cardinality whatever clients send).
    pub method: &'static str,
    /// `2xx` .. `5xx`; `1xx` for a switch of protocols; `other` for 600–999 (origins
    /// send them); `none` if no response was sent.
    pub status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct PluginPhaseLabels {
    pub plugin: String,
    pub phase: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct PluginFailureLabels {
    pub plugin: String,
    pub phase: &'static str,
    /// `deadline` (CPU deadline overrun), `trap` (panic, memory, any other trap) or
    /// `contract` (a rule broken: a framing header, a bad reply, an unknown upstream).
    pub kind: &'static str,
    /// `fail-closed` (the request failed), `fail-open` (the plugin was skipped) or `logged`
    /// (an `on-log` call: nothing left to decide).
    pub policy: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct UpstreamLabels {
    pub upstream: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RetryLabels {
    pub upstream: String,
    /// `connect` (the next endpoint after a failed connect) or `stale` (a fresh connection
    /// after a pooled one turned out closed).
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ListenerLabels {
    pub listener: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ReloadLabels {
    pub outcome: &'static str,
}

pub(crate) struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub request_seconds: Family<RouteLabels, Histogram>,
    pub plugin_call_seconds: Family<PluginPhaseLabels, Histogram>,
    pub plugin_failures: Family<PluginFailureLabels, Counter>,
    pub plugin_slow_calls: Family<PluginPhaseLabels, Counter>,
    pub reloads: Family<ReloadLabels, Counter>,
    pub connect_errors: Family<UpstreamLabels, Counter>,
    pub retries: Family<RetryLabels, Counter>,
    pub listener_connections: Family<ListenerLabels, Gauge>,
}

/// Latency buckets from 50 µs to ~3 s (×2 each), in seconds.
fn latency() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(50e-6, 2.0, 17))
}

/// Plugin calls are microseconds: 1 µs to ~65 ms.
fn call_latency() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(1e-6, 2.0, 17))
}

pub(crate) fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let mut registry = Registry::with_prefix("portcullis");
        let requests = Family::default();
        registry.register("requests", "Requests answered, by route, method and status class", requests.clone());
        let request_seconds = Family::new_with_constructor(latency as fn() -> Histogram);
        registry.register(
            "request_duration_seconds",
            "From the complete request head to the last byte sent, by route",
            request_seconds.clone(),
        );
        let plugin_call_seconds = Family::new_with_constructor(call_latency as fn() -> Histogram);
        registry.register(
            "plugin_call_duration_seconds",
            "One plugin phase call, by plugin and phase",
            plugin_call_seconds.clone(),
        );
        let plugin_failures = Family::default();
        registry.register(
            "plugin_failures",
            "Plugin calls that failed, by plugin, phase, kind and the policy applied",
            plugin_failures.clone(),
        );
        let plugin_slow_calls = Family::default();
        registry.register(
            "plugin_slow_calls",
            "Cooperative plugin calls that ran past a scheduling slice and finished on the slow lane, by plugin and phase",
            plugin_slow_calls.clone(),
        );
        let reloads = Family::default();
        registry.register("reloads", "Config and plugin reloads, by outcome", reloads.clone());
        let connect_errors = Family::default();
        registry.register(
            "upstream_connect_errors",
            "Failed connects to an upstream endpoint (refused, unreachable, timed out)",
            connect_errors.clone(),
        );
        let retries = Family::default();
        registry.register("upstream_retries", "Requests tried again on another connection", retries.clone());
        let listener_connections = Family::default();
        registry.register(
            "listener_connections_open",
            "Client connections open, by the address they were accepted on",
            listener_connections.clone(),
        );
        Metrics {
            registry,
            requests,
            request_seconds,
            plugin_call_seconds,
            plugin_failures,
            plugin_slow_calls,
            reloads,
            connect_errors,
            retries,
            listener_connections,
        }
    })
}

/// What is read from the running gateway at scrape time.
pub(crate) struct Live {
    pub open_connections: usize,
    pub pool: crate::pool::PoolStats,
    pub draining: bool,
}

impl Metrics {
    pub fn request(&self, route: &str, method: &[u8], status: u16, took: Duration) {
        let labels =
            RequestLabels { route: route.to_owned(), method: method_label(method), status: status_class(status) };
        self.requests.get_or_create(&labels).inc();
        self.request_seconds.get_or_create(&RouteLabels { route: labels.route }).observe(took.as_secs_f64());
    }

    pub fn connect_failed(&self, upstream: &str) {
        self.connect_errors.get_or_create(&UpstreamLabels { upstream: upstream.to_owned() }).inc();
    }

    pub fn retried(&self, upstream: &str, reason: &'static str) {
        self.retries.get_or_create(&RetryLabels { upstream: upstream.to_owned(), reason }).inc();
    }

    /// The open-connections gauge of the listener bound to `addr`.
    pub fn listener_connections(&self, addr: std::net::SocketAddr) -> Gauge {
        self.listener_connections.get_or_create(&ListenerLabels { listener: addr.to_string() }).clone()
    }

    pub fn reload(&self, ok: bool) {
        self.reloads.get_or_create(&ReloadLabels { outcome: if ok { "ok" } else { "failed" } }).inc();
    }

    /// The text exposition format (OpenMetrics), registry first, then the live values.
    pub fn render(&self, live: &Live) -> Result<String, std::fmt::Error> {
        use prometheus_client::encoding::text;
        use std::fmt::Write as _;
        let mut out = String::with_capacity(8 * 1024);
        text::encode_registry(&mut out, &self.registry)?;
        let mut counter = |name: &str, help: &str, value: u64| {
            writeln!(out, "# HELP portcullis_{name} {help}.\n# TYPE portcullis_{name} counter")?;
            writeln!(out, "portcullis_{name}_total {value}")
        };
        counter("upstream_connections_new", "Upstream connections opened", live.pool.new)?;
        counter("upstream_connections_reused", "Requests sent on a pooled upstream connection", live.pool.reused)?;
        counter(
            "upstream_connections_stale",
            "Pooled connections found closed or dirty at checkout",
            live.pool.evicted_stale,
        )?;
        let mut gauge = |name: &str, help: &str, value: u64| {
            writeln!(out, "# HELP portcullis_{name} {help}.\n# TYPE portcullis_{name} gauge")?;
            writeln!(out, "portcullis_{name} {value}")
        };
        gauge("upstream_connections_idle", "Upstream connections idle in the pool", live.pool.idle as u64)?;
        gauge("client_connections_open", "Client connections open", live.open_connections as u64)?;
        gauge("draining", "1 while shutting down", u64::from(live.draining))?;
        text::encode_eof(&mut out)?;
        Ok(out)
    }
}

fn method_label(method: &[u8]) -> &'static str {
    match method {
        b"GET" => "GET",
        b"HEAD" => "HEAD",
        b"POST" => "POST",
        b"PUT" => "PUT",
        b"DELETE" => "DELETE",
        b"PATCH" => "PATCH",
        b"OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        600..=999 => "other",
        _ => "none",
    }
}
