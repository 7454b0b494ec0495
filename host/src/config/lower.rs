//! Checks the parsed file and builds the public [`Config`]: the rules a type cannot
//! express (non-empty lists, non-zero counts, routes naming real upstreams).

use std::collections::BTreeMap;

use toml::Spanned;

use super::check;
use super::locate::{push_key, Locator};
use super::model::{Isolation, PluginSandbox, SandboxConfig, PER_REQUEST_MAX_MEMORY};
use super::model::{PluginRef, RouteConfig, ScrubConfig, ServerConfig, UpstreamConfig};
use super::raw::{RawConfig, RawPluginRef, RawPluginSandbox, RawRoute, RawSandbox, RawScrub, RawServer, RawUpstream};
use super::{Config, ConfigError};

pub(crate) fn lower(mut raw: RawConfig, at: &Locator<'_>) -> Result<Config, ConfigError> {
    let tls = super::tls::certificates(raw.tls, at)?;
    let listen_tls = raw.server.listen_tls.take();
    let mut server = server(raw.server, at)?;
    server.listen_tls = super::tls::listen_tls(listen_tls.as_ref(), &server.listen, &tls, at)?;
    if let Some(admin) = server.admin.filter(|a| a.port() != 0 && server.listen_tls.contains(a)) {
        let text = listen_tls.as_ref().map_or(0..0, |list| list.span());
        return Err(at.at(text, "server.listen_tls", format!("{admin} is also `server.admin`")));
    }
    let mut upstreams = BTreeMap::new();
    for (name, upstream_raw) in raw.upstreams {
        let built = upstream(&name, upstream_raw, at)?;
        upstreams.insert(name, built);
    }
    if raw.routes.get_ref().is_empty() {
        let message = "no routes; add at least one [[routes]] entry";
        return Err(at.at(raw.routes.span(), "routes", message));
    }
    let routes = raw
        .routes
        .into_inner()
        .into_iter()
        .enumerate()
        .map(|(i, r)| route(i, r, &upstreams, at))
        .collect::<Result<_, _>>()?;
    Ok(Config {
        server,
        limits: raw.limits,
        timeouts: raw.timeouts,
        log: raw.log,
        forwarding: raw.forwarding,
        scrub: scrub(raw.scrub, at)?,
        pool: raw.pool,
        sandbox: sandbox(raw.sandbox, at)?,
        tls,
        http2: super::tls::http2(raw.http2, at)?,
        upstreams,
        routes,
    })
}

fn sandbox(raw: RawSandbox, at: &Locator<'_>) -> Result<SandboxConfig, ConfigError> {
    let fallback = PluginSandbox::default();
    let merge = |limits: &RawPluginSandbox, base: PluginSandbox, key: &str, span| {
        let merged = PluginSandbox {
            cpu_deadline: limits.cpu_deadline.unwrap_or(base.cpu_deadline),
            memory: limits.memory.unwrap_or(base.memory),
            cooperative: limits.cooperative.unwrap_or(base.cooperative),
            isolation: limits.isolation.unwrap_or(base.isolation),
        };
        // A deadline under a millisecond is below the epoch tick: it would trap at random.
        if merged.cpu_deadline < std::time::Duration::from_millis(1) {
            return Err(at.at(span, format!("{key}.cpu_deadline"), "must be at least 1ms"));
        }
        if merged.memory < 1 << 20 {
            return Err(at.at(span, format!("{key}.memory"), "must be at least 1MiB (a Rust plugin needs more)"));
        }
        if merged.isolation == Isolation::PerRequest && merged.memory > PER_REQUEST_MAX_MEMORY {
            return Err(at.at(
                span,
                format!("{key}.memory"),
                "must be at most 256MiB with `isolation = \"per-request\"` (the size of its reserved slots)",
            ));
        }
        Ok(merged)
    };
    let top = RawPluginSandbox {
        cpu_deadline: raw.cpu_deadline,
        memory: raw.memory,
        cooperative: raw.cooperative,
        isolation: raw.isolation,
    };
    let defaults = merge(&top, fallback, "sandbox", 0..0)?;
    let mut plugins = BTreeMap::new();
    for (name, limits) in &raw.plugins {
        let mut key = String::from("sandbox.plugins");
        push_key(&mut key, name);
        let merged = merge(limits.get_ref(), defaults, &key, limits.span())?;
        plugins.insert(name.clone(), (merged, at.position(limits.span(), key)));
    }
    Ok(SandboxConfig { defaults, plugins })
}

fn scrub(raw: RawScrub, at: &Locator<'_>) -> Result<ScrubConfig, ConfigError> {
    let patterns = |list: Vec<Spanned<String>>, key: &str| {
        list.iter()
            .enumerate()
            .map(|(i, text)| {
                checked(
                    text,
                    || format!("scrub.{key}[{i}]"),
                    at,
                    |t| portcullis_scrub::Pattern::parse(t).map_err(|e| e.reason.to_owned()),
                )
            })
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(ScrubConfig {
        request_headers: patterns(raw.request_headers, "request_headers")?,
        response_headers: patterns(raw.response_headers, "response_headers")?,
    })
}

/// Runs `check` on a spanned value, placing its message at the value.
fn checked<T, U>(
    value: &Spanned<T>,
    key: impl FnOnce() -> String,
    at: &Locator<'_>,
    check: impl FnOnce(&T) -> Result<U, String>,
) -> Result<U, ConfigError> {
    check(value.get_ref()).map_err(|message| at.at(value.span(), key(), message))
}

/// A count that must be at least 1, with a hint on what to write instead of 0.
fn positive<T: Copy + Default + PartialEq>(
    value: &Spanned<T>,
    key: &str,
    hint: &str,
    at: &Locator<'_>,
) -> Result<T, ConfigError> {
    checked(
        value,
        || key.to_owned(),
        at,
        |&n| match n == T::default() {
            true => Err(format!("must be at least 1; {hint}")),
            false => Ok(n),
        },
    )
}

fn server(raw: RawServer, at: &Locator<'_>) -> Result<ServerConfig, ConfigError> {
    let key = "server.listen";
    if raw.listen.get_ref().is_empty() {
        return Err(at.at(raw.listen.span(), key, "no listen addresses; add one such as \"127.0.0.1:8080\""));
    }
    let mut listen = Vec::with_capacity(raw.listen.get_ref().len());
    for (i, text) in raw.listen.get_ref().iter().enumerate() {
        let key = || format!("{key}[{i}]");
        let addr = checked(text, key, at, |t| check::listen_addr(t))?;
        // Port 0 asks the OS for a fresh port each time, so repeating it is not a clash.
        if addr.port() != 0 && listen.contains(&addr) {
            return Err(at.at(text.span(), key(), format!("{addr} is listed twice")));
        }
        listen.push(addr);
    }
    let workers = match &raw.workers {
        Some(w) => Some(positive(w, "server.workers", "omit `workers` to run one per core", at)?),
        None => None,
    };
    let max_connections = match &raw.max_connections {
        Some(n) => positive(n, "server.max_connections", "it caps open client connections", at)?,
        None => ServerConfig::DEFAULT_MAX_CONNECTIONS,
    };
    let dir = |value: &Option<Spanned<String>>, key: &str| match value {
        Some(text) if text.get_ref().is_empty() => Err(at.at(text.span(), key, "empty path; omit the key instead")),
        Some(text) => Ok(Some(std::path::PathBuf::from(text.get_ref()))),
        None => Ok(None),
    };
    let admin = match &raw.admin {
        Some(text) => {
            let addr = checked(text, || "server.admin".to_owned(), at, |t| check::listen_addr(t))?;
            if !addr.ip().is_loopback() && raw.admin_public != Some(true) {
                let message = format!(
                    "{addr} is not a loopback address: the admin API can reload the gateway; \
                     set `admin_public = true` to serve it there anyway"
                );
                return Err(at.at(text.span(), "server.admin", message));
            }
            if listen.contains(&addr) && addr.port() != 0 {
                return Err(at.at(text.span(), "server.admin", format!("{addr} is also in `server.listen`")));
            }
            Some(addr)
        }
        None => None,
    };
    Ok(ServerConfig {
        listen,
        admin,
        workers,
        max_connections,
        reuse_port: raw.reuse_port.unwrap_or(ServerConfig::DEFAULT_REUSE_PORT),
        plugin_dir: dir(&raw.plugin_dir, "server.plugin_dir")?,
        plugin_cache_dir: dir(&raw.plugin_cache_dir, "server.plugin_cache_dir")?,
        handover: dir(&raw.handover, "server.handover")?,
        listen_tls: Vec::new(),
        h2c: raw.h2c.unwrap_or(false),
    })
}

fn upstream(name: &str, raw: RawUpstream, at: &Locator<'_>) -> Result<UpstreamConfig, ConfigError> {
    let mut prefix = String::from("upstreams");
    push_key(&mut prefix, name);
    let endpoints_raw = raw.endpoints.get_ref();
    if endpoints_raw.is_empty() {
        let message = "no endpoints; add one such as \"127.0.0.1:9000\"";
        return Err(at.at(raw.endpoints.span(), format!("{prefix}.endpoints"), message));
    }
    let mut endpoints = Vec::with_capacity(endpoints_raw.len());
    for (i, text) in endpoints_raw.iter().enumerate() {
        checked(text, || format!("{prefix}.endpoints[{i}]"), at, |t| check::endpoint(t))?;
        endpoints.push(text.get_ref().clone());
    }
    let max_attempts = match &raw.max_attempts {
        Some(n) => {
            let hint = "it counts the first try";
            positive(n, &format!("{prefix}.max_attempts"), hint, at)?
        }
        None => {
            let count = u32::try_from(endpoints.len()).unwrap_or(u32::MAX);
            count.min(UpstreamConfig::DEFAULT_MAX_ATTEMPTS)
        }
    };
    let tls = super::tls::upstream(&prefix, raw.protocol.as_ref(), raw.tls.as_ref(), at)?;
    let protocol = raw.protocol.map(|p| p.into_inner()).unwrap_or_default();
    Ok(UpstreamConfig { endpoints, balance: raw.balance, max_attempts, protocol, tls })
}

fn route(
    index: usize,
    raw: RawRoute,
    upstreams: &BTreeMap<String, UpstreamConfig>,
    at: &Locator<'_>,
) -> Result<RouteConfig, ConfigError> {
    let prefix = format!("routes[{index}]");
    let m = &raw.matcher;
    let host = match &m.host {
        Some(h) => Some(checked(h, || format!("{prefix}.match.host"), at, |t| check::host_pattern(t))?),
        None => None,
    };
    let path_prefix = match &m.path_prefix {
        Some(p) => {
            checked(p, || format!("{prefix}.match.path_prefix"), at, |t| check::path_prefix(t))?;
            p.get_ref().clone()
        }
        None => "/".to_owned(),
    };
    let methods = match &m.methods {
        Some(list) if list.get_ref().is_empty() => {
            let message = "empty list matches nothing; omit `methods` to match every method";
            return Err(at.at(list.span(), format!("{prefix}.match.methods"), message));
        }
        Some(list) => Some(
            list.get_ref()
                .iter()
                .enumerate()
                .map(|(i, t)| checked(t, || format!("{prefix}.match.methods[{i}]"), at, |t| check::method(t)))
                .collect::<Result<_, _>>()?,
        ),
        None => None,
    };
    let upstream = raw.upstream.get_ref();
    if !upstreams.contains_key(upstream) {
        let message = unknown_upstream(upstream, upstreams);
        return Err(at.at(raw.upstream.span(), format!("{prefix}.upstream"), message));
    }
    let allow_upgrade = raw
        .allow_upgrade
        .iter()
        .enumerate()
        .map(|(i, t)| checked(t, || format!("{prefix}.allow_upgrade[{i}]"), at, |t| check::upgrade_protocol(t)))
        .collect::<Result<_, _>>()?;
    let name = match &raw.name {
        Some(name) => checked(name, || format!("{prefix}.name"), at, |t| check::route_name(t))?,
        None => prefix.clone(),
    };
    let plugins =
        raw.plugins.iter().enumerate().map(|(i, p)| plugin_ref(&format!("{prefix}.plugins[{i}]"), p, at)).collect();
    Ok(RouteConfig { host, path_prefix, methods, upstream: upstream.clone(), allow_upgrade, name, plugins })
}

fn plugin_ref(key: &str, raw: &RawPluginRef, locator: &Locator<'_>) -> PluginRef {
    let name_at = locator.position(raw.name.span(), format!("{key}.name"));
    let at = locator;
    let (config_json, at) = match &raw.config {
        Some(table) => (
            toml_to_json(&toml::Value::Table(table.get_ref().clone())).to_string(),
            at.position(table.span(), format!("{key}.config")),
        ),
        None => ("{}".to_owned(), at.position(raw.name.span(), format!("{key}.name"))),
    };
    PluginRef { name: raw.name.get_ref().clone(), config_json, on_error: raw.on_error, at, name_at }
}

/// Plugins receive their config as JSON, the format every guest language can read.
fn toml_to_json(value: &toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        toml::Value::String(s) => J::String(s.clone()),
        toml::Value::Integer(n) => J::from(*n),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        toml::Value::Boolean(b) => J::Bool(*b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(items) => J::Array(items.iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => J::Object(table.iter().map(|(k, v)| (k.clone(), toml_to_json(v))).collect()),
    }
}

fn unknown_upstream(name: &str, upstreams: &BTreeMap<String, UpstreamConfig>) -> String {
    if upstreams.is_empty() {
        return format!("unknown upstream `{name}`; no upstreams are configured");
    }
    let known: Vec<&str> = upstreams.keys().map(String::as_str).collect();
    format!("unknown upstream `{name}`; configured: {}", known.join(", "))
}
