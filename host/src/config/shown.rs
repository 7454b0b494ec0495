//! The active config as JSON for `GET /config` on the admin listener: every setting with
//! its defaults applied, durations as `"250ms"`, and each plugin's `config` table replaced
//! by `"<redacted>"` — those tables hold the secrets (API keys, even hashed, and whatever a
//! plugin is given).

use std::time::Duration;

use serde_json::{json, Map, Value};

use super::{Config, PluginSandbox};

pub(crate) const REDACTED: &str = "<redacted>";

pub fn to_json(config: &Config) -> Value {
    let server = &config.server;
    let limits = &config.limits;
    let t = &config.timeouts;
    let path = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
    json!({
        "server": {
            "listen": server.listen.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "workers": server.workers,
            "max_connections": server.max_connections,
            "reuse_port": server.reuse_port,
            "plugin_dir": path(&server.plugin_dir),
            "plugin_cache_dir": path(&server.plugin_cache_dir),
            "admin": server.admin.map(|a| a.to_string()),
            "handover": path(&server.handover),
            "listen_tls": server.listen_tls.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "h2c": server.h2c,
        },
        // Paths only: the files (private keys among them) are never read out.
        "tls": {
            "certificates": config.tls.certificates.iter().map(|c| json!({
                "cert": c.cert.display().to_string(),
                "key": c.key.display().to_string(),
                "names": c.names,
                "default": c.default,
            })).collect::<Vec<_>>(),
        },
        "http2": {
            "max_concurrent_streams": config.http2.max_concurrent_streams,
            "max_header_list_size": config.http2.max_header_list_size,
            "stream_window": config.http2.stream_window,
            "connection_window": config.http2.connection_window,
            "max_resets": config.http2.max_resets,
        },
        "limits": {
            "max_headers": limits.max_headers,
            "max_head_bytes": limits.max_head_bytes,
            "max_request_line": limits.max_request_line,
            "max_body_bytes": limits.max_body_bytes,
        },
        "timeouts": {
            "header_read": duration(t.header_read),
            "body_idle": duration(t.body_idle),
            "body_min_rate": t.body_min_rate,
            "keepalive_idle": duration(t.keepalive_idle),
            "upstream_connect": duration(t.upstream_connect),
            "upstream_response": duration(t.upstream_response),
            "upstream_idle": duration(t.upstream_idle),
            "tunnel_idle": duration(t.tunnel_idle),
            "drain": duration(t.drain),
        },
        "log": { "format": format!("{:?}", config.log.format).to_lowercase(), "access": config.log.access },
        "forwarding": {
            "x_forwarded_for": format!("{:?}", config.forwarding.x_forwarded_for).to_lowercase(),
            "x_forwarded_proto": config.forwarding.x_forwarded_proto,
            "via": config.forwarding.via,
        },
        "scrub": {
            "request_headers": config.scrub.request_headers.iter().map(pattern).collect::<Vec<_>>(),
            "response_headers": config.scrub.response_headers.iter().map(pattern).collect::<Vec<_>>(),
        },
        "pool": {
            "idle_timeout": duration(config.pool.idle_timeout),
            "max_idle_per_key": config.pool.max_idle_per_key,
        },
        "sandbox": {
            "defaults": sandbox(&config.sandbox.defaults),
            "plugins": config.sandbox.plugins.iter()
                .map(|(name, (limits, _))| (name.clone(), sandbox(limits)))
                .collect::<Map<_, _>>(),
        },
        "upstreams": config.upstreams.iter().map(|(name, u)| (name.clone(), json!({
            "endpoints": u.endpoints,
            "balance": "round-robin",
            "max_attempts": u.max_attempts,
            "protocol": format!("{:?}", u.protocol).to_lowercase(),
            "tls": u.tls.as_ref().map(|t| json!({
                "ca": t.ca.as_ref().map(|p| p.display().to_string()),
                "sni": t.sni,
                "client_cert": t.client_cert.as_ref().map(|p| p.display().to_string()),
                "client_key": t.client_key.as_ref().map(|p| p.display().to_string()),
            })),
        }))).collect::<Map<_, _>>(),
        "routes": config.routes.iter().map(|r| json!({
            "name": r.name,
            "host": r.host,
            "path_prefix": r.path_prefix,
            "methods": r.methods,
            "upstream": r.upstream,
            "allow_upgrade": r.allow_upgrade,
            "plugins": r.plugins.iter().map(|p| json!({
                "name": p.name,
                "on_error": if p.on_error == super::OnError::FailOpen { "fail-open" } else { "fail-closed" },
                "config": REDACTED,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

fn sandbox(limits: &PluginSandbox) -> Value {
    json!({
        "cpu_deadline": duration(limits.cpu_deadline),
        "memory": limits.memory,
        "cooperative": limits.cooperative,
        "isolation": if limits.isolation == super::Isolation::PerRequest { "per-request" } else { "pooled" },
    })
}

/// In the largest unit the config file takes that states it exactly: `"250ms"`, `"90s"`,
/// `"10m"`, `"1h"`.
fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        _ if ms.is_multiple_of(3_600_000) && ms > 0 => format!("{}h", ms / 3_600_000),
        _ if ms.is_multiple_of(60_000) && ms > 0 => format!("{}m", ms / 60_000),
        _ if ms.is_multiple_of(1000) => format!("{}s", ms / 1000),
        _ => format!("{ms}ms"),
    }
}

/// As written in `[scrub]`: `name` or `prefix*`.
fn pattern(pattern: &portcullis_scrub::Pattern) -> String {
    match pattern {
        portcullis_scrub::Pattern::Exact(name) => String::from_utf8_lossy(name).into_owned(),
        portcullis_scrub::Pattern::Prefix(prefix) => format!("{}*", String::from_utf8_lossy(prefix)),
    }
}
