//! The demo origin: a small HTTP/1.1 server (on our own codec) that answers every request
//! with the request head it received, as JSON, so a newcomer sees exactly what the gateway
//! forwarded. `/status/NNN` answers with that status, `/bytes/N` with an N-byte body.
//! Also used by benchmarks as a cheap, well-behaved origin.

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::http1::request::HeadLimits;
use crate::http1::{render, BodyDecoder, BodyEvent, BodyKind, RequestHead, RequestParser, ResponseHead};

/// The embedded example config used by `portcullis demo`.
pub const DEMO_CONFIG: &str = include_str!("../../examples/demo.toml");

/// Serves the demo origin on `listener` until the task is dropped.
pub async fn serve_origin(listener: TcpListener) {
    let name: String = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let name = name.clone();
        tokio::spawn(async move {
            if let Err(err) = origin_connection(stream, &name).await {
                tracing::debug!(error = %err, "demo origin connection ended");
            }
        });
    }
}

async fn origin_connection(mut stream: TcpStream, name: &str) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut parser = RequestParser::new(HeadLimits::default());
    let mut buf = BytesMut::with_capacity(16 * 1024);
    loop {
        let head = loop {
            match parser.parse(&mut buf) {
                Ok(Some(head)) => break head,
                Ok(None) => {}
                Err(err) => {
                    let msg = format!("demo origin: {err}\n");
                    let out = simple(400, "Bad Request", Bytes::from(msg), true);
                    return stream.write_all(&out).await;
                }
            }
            if stream.read_buf(&mut buf).await? == 0 {
                return Ok(());
            }
        };
        let body_bytes = drain_body(&mut stream, &mut buf, head.body).await?;
        let keep_alive = head.keep_alive();
        respond(&mut stream, &head, body_bytes, name, keep_alive).await?;
        if !keep_alive {
            return Ok(());
        }
    }
}

async fn drain_body(stream: &mut TcpStream, buf: &mut BytesMut, kind: BodyKind) -> std::io::Result<u64> {
    let mut decoder = BodyDecoder::new(kind, 64 * 1024);
    let mut total = 0;
    loop {
        match decoder.next(buf, 1 << 20) {
            Ok(Some(BodyEvent::Data(d))) => total += d.len() as u64,
            Ok(Some(BodyEvent::End(_))) => return Ok(total),
            Ok(None) => {
                if stream.read_buf(buf).await? == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
            }
            Err(err) => return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, err)),
        }
    }
}

async fn respond(
    stream: &mut TcpStream,
    head: &RequestHead,
    body_bytes: u64,
    name: &str,
    keep_alive: bool,
) -> std::io::Result<()> {
    // A HEAD reply carries the GET reply's head and framing, never its body.
    let head_only = head.method_is("HEAD");
    let path = String::from_utf8_lossy(head.path()).into_owned();
    if let Some(code) = path.strip_prefix("/status/").and_then(|c| c.parse::<u16>().ok()) {
        if code == 204 || code == 304 {
            // Statuses that never carry a body (nor, for 204, a Content-Length).
            let mut out = BytesMut::new();
            render::response(&ResponseHead::new(code, "Demo Status"), None, !keep_alive, &mut out);
            return stream.write_all(&out).await;
        }
        if (200..=999).contains(&code) {
            let out = simple(code, "Demo Status", Bytes::from(format!("status {code}\n")), !keep_alive);
            return write_reply(stream, out, head_only).await;
        }
    }
    if let Some(n) = path.strip_prefix("/bytes/").and_then(|n| n.parse::<u64>().ok()) {
        let mut resp = ResponseHead::new(200, "OK");
        resp.headers.append(Bytes::from_static(b"Content-Type"), Bytes::from_static(b"application/octet-stream"));
        let mut out = BytesMut::new();
        render::response(&resp, Some(BodyKind::Length(n)), !keep_alive, &mut out);
        stream.write_all(&out).await?;
        if head_only {
            return Ok(());
        }
        let block = vec![b'x'; 64 * 1024];
        let mut left = n;
        while left > 0 {
            let take = left.min(block.len() as u64) as usize;
            stream.write_all(&block[..take]).await?;
            left -= take as u64;
        }
        return Ok(());
    }
    let headers: Vec<_> =
        head.headers.iter().map(|h| [String::from_utf8_lossy(&h.name), String::from_utf8_lossy(&h.value)]).collect();
    let echo = json!({
        "served_by": name,
        "method": String::from_utf8_lossy(&head.method),
        "target": String::from_utf8_lossy(&head.target),
        "version": String::from_utf8_lossy(head.version.as_bytes()),
        "headers": headers,
        "body_bytes": body_bytes,
    });
    let mut body = serde_json::to_vec_pretty(&echo).unwrap_or_default();
    body.push(b'\n');
    write_reply(stream, simple_typed(200, "OK", "application/json", Bytes::from(body), !keep_alive), head_only).await
}

/// Writes a rendered reply, cutting it after the head for HEAD requests.
async fn write_reply(stream: &mut TcpStream, mut out: BytesMut, head_only: bool) -> std::io::Result<()> {
    if head_only {
        if let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") {
            out.truncate(end + 4);
        }
    }
    stream.write_all(&out).await
}

fn simple(status: u16, reason: &'static str, body: Bytes, close: bool) -> BytesMut {
    simple_typed(status, reason, "text/plain; charset=utf-8", body, close)
}

fn simple_typed(status: u16, reason: &'static str, content_type: &'static str, body: Bytes, close: bool) -> BytesMut {
    let mut resp = ResponseHead::new(status, reason);
    resp.headers.append(Bytes::from_static(b"Content-Type"), Bytes::from_static(content_type.as_bytes()));
    let mut out = BytesMut::with_capacity(body.len() + 128);
    render::response(&resp, Some(BodyKind::Length(body.len() as u64)), close, &mut out);
    out.extend_from_slice(&body);
    out
}

/// Binds the demo origin on `addr` and serves it in the background.
pub async fn spawn_origin(addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(serve_origin(listener));
    Ok(local)
}

/// `portcullis demo`: demo origins on every endpoint of the embedded config, the gateway in
/// front of them, and a few commands to try.
pub fn run_demo(plugin_dir: std::path::PathBuf) -> anyhow::Result<()> {
    let mut config = crate::Config::from_toml_str(DEMO_CONFIG, "examples/demo.toml")?;
    config.server.plugin_dir = Some(plugin_dir);
    let (cert, key) =
        self_signed_certificate(&std::env::temp_dir().join(format!("portcullis-demo-{}", std::process::id())))?;
    for entry in &mut config.tls.certificates {
        entry.cert = cert.clone();
        entry.key = key.clone();
    }
    crate::server::runtime(&config)?.block_on(async {
        let mut origins = Vec::new();
        for upstream in config.upstreams.values() {
            for endpoint in &upstream.endpoints {
                let addr: SocketAddr = endpoint.parse()?;
                origins.push(spawn_origin(addr).await.map_err(|e| anyhow::anyhow!("demo origin on {addr}: {e}"))?);
            }
        }
        let gateway = crate::Gateway::start(config).await?;
        let mut shutdown = crate::signals::Shutdown::install();
        let gw = gateway.local_addrs().first().copied().ok_or_else(|| anyhow::anyhow!("no listener"))?;
        let tls = gateway.local_addrs().get(1).copied().ok_or_else(|| anyhow::anyhow!("no TLS listener"))?;
        println!("portcullis demo: gateway on http://{gw} and https://{tls}, demo origins on {origins:?}\n");
        println!("Try:");
        println!("  curl -s http://{gw}/hello                      # the origin echoes the head it received");
        println!("  curl -si 'http://{gw}/search?q=1%27%20union%20select%20password'   # waf: 403 + x-waf-rule");
        println!("  curl -si http://{gw}/api/items                 # key-auth: 401");
        println!("  curl -s http://{gw}/api/items -H 'X-Api-Key: demo-key'   # x-consumer: alice upstream");
        println!("  for i in $(seq 6); do curl -s -o /dev/null -w '%{{http_code}} ' http://{gw}/api/x -H 'X-Api-Key: demo-key'; done  # 429 at 6");
        println!("  curl -s http://{gw}/ -H 'X-Canary: 1'          # origin-select: served by the canary origin");
        println!("  curl -si http://{gw}/status/599                # non-standard statuses pass through");
        println!("  curl -s --http2 -k https://{tls}/hello         # HTTP/2 over TLS (self-signed certificate)");
        println!("  curl -s --http2-prior-knowledge http://{gw}/hello   # cleartext HTTP/2 (h2c)");
        if let Some(admin) = gateway.admin_addr() {
            println!("  curl -s http://{admin}/metrics              # Prometheus metrics (admin listener)");
            println!("  curl -s http://{admin}/plugins              # loaded plugins, sha256, phases, failures");
        }
        println!("\nCtrl-C to stop (in-flight requests finish first).");
        shutdown.recv().await;
        gateway.shutdown(std::time::Duration::from_secs(5)).await;
        Ok(())
    })
}

/// Writes a fresh self-signed certificate for `localhost` and `127.0.0.1` and its key into
/// `dir` (created if needed) as `demo-cert.pem` and `demo-key.pem`; returns both paths.
pub fn self_signed_certificate(dir: &std::path::Path) -> anyhow::Result<(std::path::PathBuf, std::path::PathBuf)> {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let certified = rcgen::generate_simple_self_signed(names)?;
    std::fs::create_dir_all(dir)?;
    let (cert, key) = (dir.join("demo-cert.pem"), dir.join("demo-key.pem"));
    std::fs::write(&cert, certified.cert.pem())?;
    std::fs::write(&key, certified.signing_key.serialize_pem())?;
    Ok((cert, key))
}

/// `portcullis origin`: only the demo origin, for benchmarks and manual tests.
pub fn run_origin(addr: SocketAddr) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let mut shutdown = crate::signals::Shutdown::install();
        let local = spawn_origin(addr).await?;
        println!("demo origin listening on http://{local}");
        shutdown.recv().await;
        Ok(())
    })
}
