//! `[limits]`, `[timeouts]` and `server.max_connections`: what a client that sends too much,
//! too slowly or too many connections gets, and that the origin is spared where it can be.
//!
//! Timeouts are configured short ("300ms") so they fire quickly; tests assert only the
//! outcome. A default timeout is far longer than the client's `IO_TIMEOUT`, so a test whose
//! configured timeout were ignored would fail rather than pass late.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use support::client::IO_TIMEOUT;
use support::{Client, Origin, TestGateway};

/// What the replying origin answers; it closes after one response, so nothing is pooled.
const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

/// Sends `raw` on a fresh connection and returns the response, asserting the gateway closes
/// after it (every refusal ends the connection).
async fn refusal(gw: &TestGateway, raw: &[u8]) -> support::Response {
    let mut c = gw.client().await;
    c.send(raw).await;
    let resp = c.response().await;
    assert_eq!(resp.header("connection"), Some("close"), "{} {}", resp.status, resp.text());
    assert!(c.closed().await, "the connection stayed open after {}", resp.status);
    resp
}

async fn status_of(gw: &TestGateway, raw: &[u8]) -> u16 {
    let mut c = gw.client().await;
    c.send(raw).await;
    c.response().await.status
}

/// A GET with `n` header fields, Host included.
fn with_fields(n: usize) -> Vec<u8> {
    let mut raw = String::from("GET /fields HTTP/1.1\r\nHost: a\r\n");
    for i in 1..n {
        raw.push_str(&format!("X-Field-{i}: v\r\n"));
    }
    raw.push_str("\r\n");
    raw.into_bytes()
}

/// A GET head of exactly `size` bytes, blank line included, padded in one field.
fn head_of_size(size: usize) -> Vec<u8> {
    let bare = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: \r\n\r\n".len();
    format!("GET / HTTP/1.1\r\nHost: a\r\nX-Pad: {}\r\n\r\n", "p".repeat(size - bare)).into_bytes()
}

/// A GET whose request line (without its CRLF) is exactly `len` bytes.
fn with_request_line(len: usize) -> Vec<u8> {
    let bare = "GET / HTTP/1.1".len();
    format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(len - bare)).into_bytes()
}

/// What the recording origin received after the head, once the gateway closed it.
async fn body_seen(origin: &mut Origin) -> String {
    let seen = tokio::time::timeout(IO_TIMEOUT, origin.heads.recv()).await.unwrap().unwrap();
    seen.split_once("\r\n\r\n").unwrap().1.to_owned()
}

/// Sends `bytes` in pieces of `piece`, one per `every`, until the gateway has something to
/// say (a response or a close). Returns how many bytes went out.
async fn trickle(c: &mut Client, bytes: &[u8], piece: usize, every: Duration) -> usize {
    let mut sent = 0;
    for chunk in bytes.chunks(piece) {
        // `peek`, unlike `readable`, has no false positives and leaves the bytes to `response`.
        if tokio::time::timeout(every, c.stream.peek(&mut [0u8; 1])).await.is_ok() {
            break;
        }
        if c.try_send(chunk).await.is_err() {
            break;
        }
        sent += chunk.len();
    }
    sent
}

// === Head limits: defaults ===

#[tokio::test]
async fn a_hundred_fields_pass_by_default_and_one_more_is_431() {
    let mut origin = Origin::replying(OK).await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;

    assert_eq!(status_of(&gw, &with_fields(100)).await, 200);
    let head = origin.heads.recv().await.unwrap();
    assert!(head.contains("\r\nX-Field-99: v\r\n"), "origin saw {head:?}");

    assert_eq!(refusal(&gw, &with_fields(101)).await.status, 431);
    assert_eq!(origin.accepted(), 1, "a refused head reached the origin");
}

#[tokio::test]
async fn a_head_over_64_kib_is_431_by_default() {
    let origin = Origin::replying(OK).await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;

    // The forwarded head grows by the forwarding fields; the replying origin has no limit.
    assert_eq!(status_of(&gw, &head_of_size(64 * 1024)).await, 200);
    assert_eq!(refusal(&gw, &head_of_size(64 * 1024 + 1)).await.status, 431);
    assert_eq!(refusal(&gw, &head_of_size(80 * 1024)).await.status, 431);
    // A head that never ends is refused once it passes the limit.
    let endless = format!("GET / HTTP/1.1\r\nHost: a\r\nX-Pad: {}", "p".repeat(70 * 1024));
    assert_eq!(refusal(&gw, endless.as_bytes()).await.status, 431);
    assert_eq!(origin.accepted(), 1, "a refused head reached the origin");
}

#[tokio::test]
async fn a_request_line_over_8_kib_is_414_by_default() {
    let origin = Origin::replying(OK).await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;

    assert_eq!(status_of(&gw, &with_request_line(8 * 1024)).await, 200);
    assert_eq!(refusal(&gw, &with_request_line(8 * 1024 + 1)).await.status, 414);
    // A line that never ends is refused once it passes the limit.
    let endless = format!("GET /{}", "a".repeat(9 * 1024));
    assert_eq!(refusal(&gw, endless.as_bytes()).await.status, 414);
    assert_eq!(origin.accepted(), 1, "a refused head reached the origin");
}

// === Head limits: configured ===

#[tokio::test]
async fn configured_max_headers_applies() {
    let origin = Origin::replying(OK).await;
    let gw = TestGateway::in_front_of(origin.addr, "[limits]\nmax_headers = 5\n").await;
    assert_eq!(status_of(&gw, &with_fields(5)).await, 200);
    assert_eq!(refusal(&gw, &with_fields(6)).await.status, 431);
    assert_eq!(origin.accepted(), 1, "a refused head reached the origin");
}

#[tokio::test]
async fn configured_max_head_bytes_applies() {
    let origin = Origin::replying(OK).await;
    let gw = TestGateway::in_front_of(origin.addr, "[limits]\nmax_head_bytes = \"1KiB\"\n").await;
    assert_eq!(status_of(&gw, &head_of_size(1024)).await, 200);
    assert_eq!(refusal(&gw, &head_of_size(1025)).await.status, 431);
    assert_eq!(origin.accepted(), 1, "a refused head reached the origin");
}

#[tokio::test]
async fn configured_max_request_line_applies() {
    let origin = Origin::replying(OK).await;
    let gw = TestGateway::in_front_of(origin.addr, "[limits]\nmax_request_line = 256\n").await;
    assert_eq!(status_of(&gw, &with_request_line(256)).await, 200);
    assert_eq!(refusal(&gw, &with_request_line(257)).await.status, 414);
    assert_eq!(origin.accepted(), 1, "a refused head reached the origin");
}

// === Body limit ===

const SMALL_BODY_LIMIT: &str = "[limits]\nmax_body_bytes = 1000\n";

#[tokio::test]
async fn a_body_at_max_body_bytes_passes() {
    let origin = Origin::echo().await;
    let gw = TestGateway::in_front_of(origin.addr, SMALL_BODY_LIMIT).await;

    let mut c = gw.client().await;
    let head = "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n";
    c.send(&[head.as_bytes(), &[b'x'; 1000]].concat()).await;
    let resp = c.response().await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.echo()["body_bytes"], 1000);

    let chunked = format!("{:x}\r\n{}\r\n{:x}\r\n{}\r\n0\r\n\r\n", 600, "x".repeat(600), 400, "y".repeat(400));
    c.send(format!("POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{chunked}").as_bytes()).await;
    let resp = c.response().await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.echo()["body_bytes"], 1000);
}

#[tokio::test]
async fn a_content_length_over_max_body_bytes_is_413_without_contacting_the_origin() {
    let origin = Origin::echo().await;
    let gw = TestGateway::in_front_of(origin.addr, SMALL_BODY_LIMIT).await;

    let head = "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n";
    // Refused on the head alone, whether or not the body follows.
    assert_eq!(refusal(&gw, head.as_bytes()).await.status, 413);
    assert_eq!(refusal(&gw, &[head.as_bytes(), &[b'x'; 1001]].concat()).await.status, 413);
    let huge = "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 9999999999999999999\r\n\r\n";
    assert_eq!(refusal(&gw, huge.as_bytes()).await.status, 413);
    assert_eq!(origin.accepted(), 0, "the origin was contacted for a body it would never get");
}

#[tokio::test]
async fn a_chunked_body_growing_past_max_body_bytes_is_413() {
    let mut origin = Origin::recording().await;
    let gw = TestGateway::in_front_of(origin.addr, SMALL_BODY_LIMIT).await;

    let chunked = format!("{:x}\r\n{}\r\n{:x}\r\n{}\r\n0\r\n\r\n", 600, "x".repeat(600), 600, "y".repeat(600));
    let raw = format!("POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{chunked}");
    assert_eq!(refusal(&gw, raw.as_bytes()).await.status, 413);

    // The head was valid, so the origin was contacted; it must not get the whole body.
    let body = body_seen(&mut origin).await;
    assert!(!body.contains("0\r\n\r\n"), "the origin received a complete body: {body:?}");
    assert!(body.matches(['x', 'y']).count() <= 1000, "more than max_body_bytes reached the origin");
}

// === Timeouts ===

#[tokio::test]
async fn a_head_trickled_slower_than_header_read_is_408() {
    let origin = Origin::replying(OK).await;
    let gw = TestGateway::in_front_of(origin.addr, "[timeouts]\nheader_read = \"500ms\"\n").await;

    // Complete and valid after ~8 s: only a deadline on the whole head stops it sooner.
    let head = format!("GET /slow HTTP/1.1\r\nHost: a\r\nX-Slow: {}\r\n\r\n", "s".repeat(40));
    let mut c = gw.client().await;
    trickle(&mut c, head.as_bytes(), 1, Duration::from_millis(100)).await;
    let resp = c.response().await;
    assert_eq!(resp.status, 408, "{}", resp.text());
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(c.closed().await);
    assert_eq!(origin.accepted(), 0);
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_header_read_without_a_response() {
    let origin = Origin::echo().await;
    let gw = TestGateway::in_front_of(origin.addr, "[timeouts]\nheader_read = \"300ms\"\n").await;
    let mut c = gw.client().await;
    assert_eq!(c.read_to_close().await, b"", "a connection that never sent a byte got a response");
    assert_eq!(origin.accepted(), 0);
}

#[tokio::test]
async fn a_stalled_body_is_408_after_body_idle() {
    let mut origin = Origin::recording().await;
    // header_read is longer than the client's patience: only body_idle can end it.
    let gw = TestGateway::in_front_of(origin.addr, "[timeouts]\nbody_idle = \"300ms\"\nheader_read = \"60s\"\n").await;

    let mut c = gw.client().await;
    c.send(b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhalf!").await;
    let resp = c.response().await;
    assert_eq!(resp.status, 408, "{}", resp.text());
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(c.closed().await);
    assert_eq!(body_seen(&mut origin).await, "half!", "the origin must see the body end short");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_keepalive_idle() {
    let origin = Origin::echo().await;
    // header_read is longer than the client's patience: only keepalive_idle can close it.
    let gw =
        TestGateway::in_front_of(origin.addr, "[timeouts]\nkeepalive_idle = \"300ms\"\nheader_read = \"60s\"\n").await;
    let mut c = gw.client().await;
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    let resp = c.response().await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("connection"), None, "the first response must keep the connection");
    assert!(c.closed().await, "the idle connection was not closed, or got unsolicited bytes");
}

/// The rate is judged only after a 5 s grace period (`relay::MIN_RATE_GRACE`), so this
/// test takes about that long.
#[tokio::test]
async fn a_body_slower_than_body_min_rate_is_408() {
    let origin = Origin::echo().await;
    let gw = TestGateway::in_front_of(origin.addr, "[timeouts]\nbody_min_rate = 1000\n").await;

    // A fast upload is not affected.
    let mut c = gw.client().await;
    c.send(&[&b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 4000\r\n\r\n"[..], &[b'x'; 4000]].concat()).await;
    assert_eq!(c.response().await.echo()["body_bytes"], 4000);

    // ~100 B/s: every read comes well within body_idle, but the average is far too low.
    let body = vec![b'x'; 4000];
    let mut c = gw.client().await;
    c.send(b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 4000\r\n\r\n").await;
    let sent = trickle(&mut c, &body, 10, Duration::from_millis(100)).await;
    assert!(sent < body.len(), "the whole slow body was accepted");
    let resp = c.response().await;
    assert_eq!(resp.status, 408, "{}", resp.text());
    assert_eq!(resp.header("connection"), Some("close"));
}

// === Connections ===

#[tokio::test]
async fn over_max_connections_a_client_gets_503_until_a_slot_frees() {
    let origin = Origin::echo().await;
    let gw = TestGateway::in_front_of(origin.addr, "[server]\nlisten = [\"127.0.0.1:0\"]\nmax_connections = 1\n").await;

    // A full exchange proves the first connection holds the only slot.
    let mut first = gw.client().await;
    first.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!(first.response().await.status, 200);

    let resp = refusal(&gw, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!(resp.status, 503, "{}", resp.text());
    assert_eq!(origin.accepted(), 1, "the refused connection reached the origin");

    // The slot frees once the gateway has seen the close, which the client cannot observe:
    // retry, refusing anything but 503 meanwhile.
    drop(first);
    let mut attempts = 0;
    loop {
        let mut c = gw.client().await;
        c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
        match c.response().await.status {
            200 => break,
            503 if attempts < 200 => attempts += 1,
            status => panic!("after the first connection closed: {status} (attempt {attempts})"),
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
