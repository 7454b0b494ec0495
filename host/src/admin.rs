//! The admin listener (`server.admin`): one request per connection, answered and closed.
//!
//! - `GET /healthz`: 200 while the process serves at all.
//! - `GET /readyz`: 200, or 503 once shutdown has begun (load balancers stop sending).
//! - `GET /metrics`: Prometheus/OpenMetrics text (`metrics.rs`).
//! - `GET /plugins`: the loaded plugins as JSON: name, file, sha256, phases, failures.
//! - `GET /config`: the active config as JSON, defaults applied, plugin configs redacted.
//! - `POST /reload`: reloads from the config file `run` was started with; 200, or 500 with
//!   why the new snapshot was refused (the old one keeps serving).

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::http1::{RequestHead, RequestParser};
use crate::proxy::io::Conn;
use crate::server::{Current, Lifecycle};

/// What the admin handlers read.
pub(crate) struct Admin {
    pub current: Current,
    pub lifecycle: Arc<Lifecycle>,
    /// The config file to reload from; set by `run`, absent in an embedded gateway.
    pub config_path: OnceLock<PathBuf>,
}

pub(crate) async fn serve(listener: TcpListener, admin: Arc<Admin>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            continue;
        };
        tokio::spawn(answer(stream, admin.clone()));
    }
}

async fn answer(stream: TcpStream, admin: Arc<Admin>) {
    let proxy = admin.current.load_full();
    let mut client = Conn::new(stream);
    let mut parser = RequestParser::new(proxy.head_limits);
    let head = loop {
        match parser.parse(&mut client.buf) {
            Ok(Some(head)) => break head,
            Ok(None) => {}
            Err(_) => return respond(client, 400, "text/plain", "bad request\n".into()).await,
        }
        match client.read_more(proxy.config.timeouts.header_read).await {
            Ok(n) if n > 0 => {}
            _ => return,
        }
    };
    let (status, content_type, body) = route(&admin, &head).await;
    respond(client, status, content_type, body).await;
}

async fn route(admin: &Admin, head: &RequestHead) -> (u16, &'static str, String) {
    const TEXT: &str = "text/plain; charset=utf-8";
    let method = String::from_utf8_lossy(&head.method);
    match (method.as_ref(), head.path()) {
        ("GET", b"/healthz") => (200, TEXT, "ok\n".into()),
        ("GET", b"/readyz") if admin.lifecycle.is_draining() => (503, TEXT, "draining\n".into()),
        ("GET", b"/readyz") => (200, TEXT, "ready\n".into()),
        ("GET", b"/metrics") => {
            let proxy = admin.current.load();
            let live = crate::metrics::Live {
                open_connections: admin.lifecycle.open_connections(),
                pool: proxy.pool_stats(),
                draining: admin.lifecycle.is_draining(),
            };
            match crate::metrics::metrics().render(&live) {
                Ok(text) => (200, "application/openmetrics-text; version=1.0.0; charset=utf-8", text),
                Err(_) => (500, TEXT, "cannot render metrics\n".into()),
            }
        }
        ("GET", b"/plugins") => (200, "application/json", plugins_json(admin)),
        ("GET", b"/config") => {
            let config = crate::config::shown::to_json(admin.current.load().config());
            (200, "application/json", config.to_string() + "\n")
        }
        ("POST", b"/reload") => reload(admin).await,
        (_, b"/healthz" | b"/readyz" | b"/metrics" | b"/plugins" | b"/config" | b"/reload") => {
            (405, TEXT, "method not allowed\n".into())
        }
        _ => (404, TEXT, "not found: /healthz /readyz /metrics /plugins /config, POST /reload\n".into()),
    }
}

fn plugins_json(admin: &Admin) -> String {
    let proxy = admin.current.load();
    let plugins: Vec<serde_json::Value> = proxy
        .plugins
        .info()
        .into_iter()
        .map(|p| {
            serde_json::json!({
                "name": p.name,
                "file": p.file.display().to_string(),
                "sha256": p.sha256,
                "phases": p.phases,
                "failures": p.failures,
            })
        })
        .collect();
    serde_json::Value::Array(plugins).to_string() + "\n"
}

async fn reload(admin: &Admin) -> (u16, &'static str, String) {
    const TEXT: &str = "text/plain; charset=utf-8";
    let Some(path) = admin.config_path.get() else {
        return (501, TEXT, "this gateway was not started from a config file\n".into());
    };
    let outcome = match crate::Config::load(path) {
        Ok(config) => crate::server::reload_into(&admin.current, config).await,
        Err(err) => {
            crate::metrics::metrics().reload(false);
            Err(err.into())
        }
    };
    match outcome {
        Ok(()) => {
            tracing::info!(why = "POST /reload", "reloaded");
            (200, TEXT, "reloaded\n".into())
        }
        Err(err) => {
            tracing::error!(why = "POST /reload", error = %format!("{err:#}"), "reload rejected; still serving the previous config");
            (500, TEXT, format!("reload rejected: {err:#}\n"))
        }
    }
}

async fn respond(mut client: Conn, status: u16, content_type: &str, body: String) {
    let reason = crate::http1::response::canonical_reason(status);
    let mut out = BytesMut::with_capacity(128 + body.len());
    out.extend_from_slice(
        format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(body.as_bytes());
    let _ = client.stream.write_all(&out).await;
    let _ = client.stream.shutdown().await;
}
