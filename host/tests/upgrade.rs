//! Upgrade (WebSocket-style): tunnelled byte for byte on routes that allow the protocol,
//! forwarded as plain HTTP everywhere else.
#![allow(clippy::unwrap_used)]

mod support;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use support::origin::{head_field, head_target, read_head};
use support::{Origin, TestGateway};

const UPGRADE_REQUEST: &str = "HTTP/1.1\r\nHost: test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
                               Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// Greets first (so bytes flow origin → client unprompted), then echoes.
const GREETING: &[u8] = b"hello from the origin\n";

/// Answers an Upgrade request with 101 (plus a greeting in the same write, so the gateway
/// must forward bytes that arrive right behind the head) and then echoes every byte. A plain
/// request gets a plain 200, except on `/always-101`, which plays a broken origin that
/// switches protocols nobody asked for.
async fn websocket_origin(mut stream: TcpStream, heads: mpsc::UnboundedSender<String>) {
    let Some(head) = read_head(&mut stream).await else { return };
    let asked = head_field(&head, "upgrade").is_some();
    let always = head_target(&head).ends_with("/always-101");
    let _ = heads.send(head);
    if !asked && !always {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nplain http").await;
        return;
    }
    let mut reply = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
                      Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        .to_vec();
    reply.extend_from_slice(GREETING);
    if stream.write_all(&reply).await.is_err() {
        return;
    }
    let (mut from, mut to) = stream.split();
    let _ = tokio::io::copy(&mut from, &mut to).await;
    let _ = to.shutdown().await;
}

async fn gateway(origin: &Origin) -> TestGateway {
    gateway_with(origin, "").await
}

async fn gateway_with(origin: &Origin, extra: &str) -> TestGateway {
    TestGateway::start(&format!(
        "{extra}\n[upstreams.app]\nendpoints = [\"{}\"]\n\
         [[routes]]\nmatch = {{ path_prefix = \"/ws\" }}\nupstream = \"app\"\nallow_upgrade = [\"websocket\"]\n\
         [[routes]]\nmatch = {{ path_prefix = \"/plain\" }}\nupstream = \"app\"\n",
        origin.addr
    ))
    .await
}

#[tokio::test]
async fn upgrade_on_an_allowing_route_tunnels_bytes_both_ways() {
    let mut origin = Origin::scripted(websocket_origin).await;
    let gw = gateway(&origin).await;
    let mut c = gw.client().await;
    c.send(format!("GET /ws/chat {UPGRADE_REQUEST}").as_bytes()).await;

    let resp = c.response().await;
    assert_eq!(resp.status, 101);
    assert_eq!(resp.header("upgrade"), Some("websocket"));
    assert!(resp.header_all("connection").iter().any(|v| v.eq_ignore_ascii_case("upgrade")), "{:?}", resp.headers);
    assert_eq!(resp.header("sec-websocket-accept"), Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    assert_eq!(c.read_exact(GREETING.len()).await, GREETING);

    c.send(b"ping").await;
    assert_eq!(c.read_exact(4).await, b"ping");
    // Binary, and larger than one read: the tunnel does not interpret or re-frame bytes.
    let frame: Vec<u8> = (0..64 * 1024).map(|i| (i % 256) as u8).collect();
    c.send(&frame).await;
    assert_eq!(c.read_exact(frame.len()).await, frame);

    let head = origin.heads.recv().await.unwrap();
    assert_eq!(head_field(&head, "upgrade").as_deref(), Some("websocket"), "{head}");
    assert!(head_field(&head, "connection").unwrap_or_default().eq_ignore_ascii_case("upgrade"), "{head}");
    assert_eq!(head_field(&head, "sec-websocket-key").as_deref(), Some("dGhlIHNhbXBsZSBub25jZQ=="));

    // Closing our side ends the echo, and the tunnel closes the client connection.
    c.stream.shutdown().await.unwrap();
    assert!(c.closed().await);
}

#[tokio::test]
async fn a_silent_tunnel_is_closed_after_tunnel_idle() {
    let origin = Origin::scripted(websocket_origin).await;
    let gw = gateway_with(&origin, "[timeouts]\ntunnel_idle = \"300ms\"").await;
    let mut c = gw.client().await;
    c.send(format!("GET /ws/chat {UPGRADE_REQUEST}").as_bytes()).await;
    assert_eq!(c.response().await.status, 101);
    assert_eq!(c.read_exact(GREETING.len()).await, GREETING);
    c.send(b"ping").await;
    assert_eq!(c.read_exact(4).await, b"ping");
    // Now nobody speaks: the gateway must end the tunnel on its own.
    assert!(c.closed().await, "an idle tunnel must be closed");
}

#[tokio::test]
async fn upgrade_on_other_routes_is_forwarded_as_plain_http() {
    let mut origin = Origin::scripted(websocket_origin).await;
    let gw = gateway(&origin).await;
    let mut c = gw.client().await;
    c.send(format!("GET /plain/chat {UPGRADE_REQUEST}").as_bytes()).await;

    let resp = c.response().await;
    assert_eq!((resp.status, resp.text().as_str()), (200, "plain http"));
    let head = origin.heads.recv().await.unwrap();
    assert_eq!(head_field(&head, "upgrade"), None, "{head}");
    assert_eq!(head_field(&head, "connection"), None, "{head}");
    assert_eq!(head_field(&head, "sec-websocket-key").as_deref(), Some("dGhlIHNhbXBsZSBub25jZQ=="));

    // The connection is still plain HTTP/1.1 and keeps going.
    c.send(b"GET /plain/again HTTP/1.1\r\nHost: test\r\n\r\n").await;
    assert_eq!(c.response().await.status, 200);
}

#[tokio::test]
async fn a_101_nobody_asked_for_becomes_502() {
    let mut origin = Origin::scripted(websocket_origin).await;
    let gw = gateway(&origin).await;
    let mut c = gw.client().await;
    c.send(format!("GET /plain/always-101 {UPGRADE_REQUEST}").as_bytes()).await;

    let resp = c.response().await;
    assert_eq!(resp.status, 502);
    assert!(!resp.text().contains("websocket"), "{}", resp.text());
    let head = origin.heads.recv().await.unwrap();
    assert_eq!(head_field(&head, "upgrade"), None, "{head}");
    assert_eq!(head_field(&head, "connection"), None, "{head}");
    assert!(c.closed().await);
}

#[tokio::test]
async fn only_allowed_protocols_are_offered_and_a_switch_to_another_is_502() {
    // The origin switches to whatever protocol it is asked for first, or to h2c if told to.
    let mut origin = Origin::scripted(|mut stream, heads| async move {
        let Some(head) = read_head(&mut stream).await else { return };
        let offered = head_field(&head, "upgrade").unwrap_or_default();
        let chosen = if head_target(&head).ends_with("/pick-h2c") { "h2c".to_owned() } else { offered.clone() };
        let _ = heads.send(head);
        let reply = format!("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: {chosen}\r\n\r\n");
        let _ = stream.write_all(reply.as_bytes()).await;
        let (mut from, mut to) = stream.split();
        let _ = tokio::io::copy(&mut from, &mut to).await;
    })
    .await;
    let gw = gateway(&origin).await;

    let offer = "HTTP/1.1\r\nHost: test\r\nConnection: Upgrade\r\nUpgrade: h2c, websocket\r\n\r\n";
    let mut c = gw.client().await;
    c.send(format!("GET /ws/a {offer}").as_bytes()).await;
    assert_eq!(c.response().await.status, 101);
    let head = origin.heads.recv().await.unwrap();
    assert_eq!(head_field(&head, "upgrade").as_deref(), Some("websocket"), "h2c was offered to the origin: {head}");

    let mut c = gw.client().await;
    c.send(format!("GET /ws/pick-h2c {offer}").as_bytes()).await;
    assert_eq!(c.response().await.status, 502, "the origin switched to a protocol nobody offered");
}
