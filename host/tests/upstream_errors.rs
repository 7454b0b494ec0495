//! What a client sees when the origin misbehaves, stalls, dies or cannot be reached, and
//! which failures are retried on another endpoint (see `proxy::call` for the rules).
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use support::origin::{closed_port, read_head, Blackhole};
use support::{Origin, Response, TestGateway};

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: test\r\n\r\n";

/// A gateway with one route `/` to upstream `app` over `endpoints`; `upstream_keys` are
/// extra lines for the `[upstreams.app]` table, `extra` any other TOML.
async fn gateway_over(endpoints: &[SocketAddr], upstream_keys: &str, extra: &str) -> TestGateway {
    let list: Vec<String> = endpoints.iter().map(|a| format!("\"{a}\"")).collect();
    TestGateway::start(&format!(
        "{extra}\n[upstreams.app]\nendpoints = [{}]\n{upstream_keys}\n[[routes]]\nmatch = {{ path_prefix = \"/\" }}\nupstream = \"app\"\n",
        list.join(", ")
    ))
    .await
}

/// One GET on a fresh client connection.
async fn get_once(gw: &TestGateway) -> Response {
    let mut c = gw.client().await;
    c.send(GET).await;
    c.response().await
}

/// An error page the gateway made itself: the status, a short text/plain body, a closed
/// connection, and nothing that tells the client where the origins are.
fn assert_error_page(resp: &Response, status: u16, origins: &[SocketAddr]) {
    let text = resp.text();
    assert_eq!(resp.status, status, "body: {text}");
    let content_type = resp.header("content-type").unwrap_or_default();
    assert!(content_type.starts_with("text/plain"), "content-type {content_type:?}");
    assert!(!resp.body.is_empty() && resp.body.len() < 256, "error body of {} bytes: {text}", resp.body.len());
    assert_eq!(resp.header("connection"), Some("close"));
    let everything = format!("{:?} {text}", resp.headers);
    for addr in origins {
        assert!(!everything.contains(&addr.to_string()), "origin address {addr} leaked: {everything}");
        assert!(!everything.contains(&addr.port().to_string()), "origin port {} leaked: {everything}", addr.port());
    }
}

/// Splits raw response bytes into the head (without the blank line) and what followed.
fn split_raw(raw: &[u8]) -> (String, &[u8]) {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| {
        panic!("no complete head in {:?}", String::from_utf8_lossy(raw));
    });
    (String::from_utf8_lossy(&raw[..end]).into_owned(), &raw[end + 4..])
}

fn raw_header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

// === invalid responses ===

#[tokio::test]
async fn garbage_from_the_origin_is_a_502_with_a_short_plain_body() {
    let origin = Origin::replying(b"this is not http at all\r\n\r\n").await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;
    assert_error_page(&get_once(&gw).await, 502, &[origin.addr]);
}

#[tokio::test]
async fn content_length_with_transfer_encoding_from_the_origin_is_a_502() {
    let origin = Origin::replying(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    )
    .await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;
    assert_error_page(&get_once(&gw).await, 502, &[origin.addr]);
}

#[tokio::test]
async fn differing_content_lengths_from_the_origin_are_a_502() {
    let origin = Origin::replying(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!").await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;
    assert_error_page(&get_once(&gw).await, 502, &[origin.addr]);
}

#[tokio::test]
async fn status_codes_outside_three_digits_are_a_502() {
    let too_low = Origin::replying(b"HTTP/1.1 99 Too Low\r\nContent-Length: 0\r\n\r\n").await;
    let too_high = Origin::replying(b"HTTP/1.1 1000 Too High\r\nContent-Length: 0\r\n\r\n").await;
    for origin in [&too_low, &too_high] {
        let gw = TestGateway::in_front_of(origin.addr, "").await;
        assert_error_page(&get_once(&gw).await, 502, &[origin.addr]);
    }
}

#[tokio::test]
async fn nonstandard_statuses_and_reason_phrases_pass_through_unchanged() {
    let cases: [(&'static [u8], u16, &str); 2] = [
        (
            b"HTTP/1.1 599 Network Connect Timeout Error\r\nContent-Length: 2\r\n\r\nok",
            599,
            "Network Connect Timeout Error",
        ),
        (b"HTTP/1.1 999 Whatever You Like\r\nContent-Length: 2\r\n\r\nok", 999, "Whatever You Like"),
    ];
    for (reply, status, reason) in cases {
        let origin = Origin::replying(reply).await;
        let gw = TestGateway::in_front_of(origin.addr, "").await;
        let resp = get_once(&gw).await;
        assert_eq!((resp.status, resp.reason.as_str()), (status, reason));
        assert_eq!(resp.body, b"ok");
    }
}

// === origins that die ===

#[tokio::test]
async fn origin_closing_before_responding_is_a_502() {
    // One origin reads the request first, the other hangs up at once.
    let after_reading = Origin::scripted(|mut stream, _| async move {
        let _ = read_head(&mut stream).await;
    })
    .await;
    let at_once = Origin::scripted(|stream, _| async move { drop(stream) }).await;
    for origin in [&after_reading, &at_once] {
        let gw = TestGateway::in_front_of(origin.addr, "").await;
        assert_error_page(&get_once(&gw).await, 502, &[origin.addr]);
    }
}

#[tokio::test]
async fn origin_closing_mid_body_truncates_a_content_length_response_visibly() {
    let origin = Origin::replying(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly twenty bytes...").await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;
    let mut c = gw.client().await;
    c.send(GET).await;
    let raw = c.read_to_close().await;
    let (head, body) = split_raw(&raw);
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(raw_header(&head, "content-length"), Some("100"), "{head}");
    // The client holds fewer bytes than promised and a closed connection: it can tell.
    assert_eq!(body, b"only twenty bytes...");
}

#[tokio::test]
async fn origin_closing_mid_body_never_sends_the_last_chunk() {
    let origin = Origin::replying(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n").await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;
    let mut c = gw.client().await;
    c.send(GET).await;
    let raw = c.read_to_close().await;
    let (head, body) = split_raw(&raw);
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(raw_header(&head, "transfer-encoding"), Some("chunked"), "{head}");
    let body_text = String::from_utf8_lossy(body);
    assert!(body_text.contains("hello"), "the relayed part is missing: {body_text:?}");
    assert!(
        !body.starts_with(b"0\r\n") && !body_text.contains("\r\n0\r\n"),
        "a truncated body was terminated: {body_text:?}"
    );
}

// === timeouts ===

#[tokio::test]
async fn stalled_origin_is_a_504_after_upstream_response() {
    let mut origin = Origin::stalled().await;
    let gw = TestGateway::in_front_of(origin.addr, "[timeouts]\nupstream_response = \"300ms\"").await;
    let resp = get_once(&gw).await;
    assert_error_page(&resp, 504, &[origin.addr]);
    assert!(origin.heads.try_recv().is_ok(), "the origin never got the request");
}

#[tokio::test]
async fn upstream_connect_timeout_is_a_504() {
    let Some(hole) = Blackhole::new().await else {
        eprintln!("SKIPPED: this kernel answers SYNs on a full accept queue; cannot provoke a connect timeout");
        return;
    };
    let gw = TestGateway::in_front_of(hole.addr, "[timeouts]\nupstream_connect = \"300ms\"").await;
    let resp = get_once(&gw).await;
    assert_error_page(&resp, 504, &[hole.addr]);
    // A response timeout is also a 504; make sure this one is the connect that timed out.
    assert!(resp.text().contains("connecting"), "{}", resp.text());
}

// === retries and balancing ===

#[tokio::test]
async fn a_dead_endpoint_is_skipped_on_connect_failure() {
    let dead = closed_port().await;
    let good = Origin::echo().await;
    let gw = gateway_over(&[dead, good.addr], "", "").await;
    let mut c = gw.client().await;
    // Round-robin starts every other request on the dead endpoint.
    for i in 0..6 {
        c.send(GET).await;
        let resp = c.response().await;
        assert_eq!(resp.status, 200, "request {i}: {}", resp.text());
    }
}

#[tokio::test]
async fn max_attempts_one_does_not_retry() {
    let dead = closed_port().await;
    let gw = gateway_over(&[dead], "max_attempts = 1", "").await;
    assert_error_page(&get_once(&gw).await, 502, &[dead]);

    // With a good endpoint next in line, the requests that start on the dead one still fail.
    let good = Origin::echo().await;
    let gw = gateway_over(&[dead, good.addr], "max_attempts = 1", "").await;
    let mut got = Vec::new();
    for _ in 0..4 {
        let resp = get_once(&gw).await;
        if resp.status == 502 {
            assert_error_page(&resp, 502, &[dead, good.addr]);
        }
        got.push(resp.status);
    }
    assert_eq!(got, [502, 200, 502, 200]);
}

#[tokio::test]
async fn all_endpoints_dead_is_a_502() {
    let dead = [closed_port().await, closed_port().await, closed_port().await];
    let gw = gateway_over(&dead, "", "").await;
    for _ in 0..3 {
        assert_error_page(&get_once(&gw).await, 502, &dead);
    }
}

#[tokio::test]
async fn round_robin_spreads_requests_over_the_endpoints() {
    let a = Origin::echo().await;
    let b = Origin::echo().await;
    let gw = gateway_over(&[a.addr, b.addr], "", "").await;
    let mut c = gw.client().await;
    let mut served: HashMap<String, usize> = HashMap::new();
    for _ in 0..10 {
        c.send(GET).await;
        let resp = c.response().await;
        assert_eq!(resp.status, 200);
        *served.entry(resp.echo()["served_by"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    assert_eq!(served.len(), 2, "{served:?}");
    assert!(served.values().all(|&n| n == 5), "{served:?}");
    assert!(a.accepted() >= 1 && b.accepted() >= 1);
}

#[tokio::test]
async fn a_request_whose_body_was_sent_is_never_resent() {
    const BODY: usize = 10_000;
    // Takes the whole request, then hangs up without a word.
    let mut first = Origin::scripted(|mut stream, heads| async move {
        let Some(head) = read_head(&mut stream).await else { return };
        let mut body = vec![0u8; BODY];
        if stream.read_exact(&mut body).await.is_ok() {
            let _ = heads.send(head);
        }
    })
    .await;
    let second = Origin::echo().await;
    let gw = gateway_over(&[first.addr, second.addr], "", "").await;

    let mut c = gw.client().await;
    c.send(format!("POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: {BODY}\r\n\r\n").as_bytes()).await;
    c.send(&vec![b'b'; BODY]).await;
    let resp = c.response().await;
    assert_error_page(&resp, 502, &[first.addr, second.addr]);
    assert!(first.heads.try_recv().is_ok(), "the first origin did not receive the whole body");
    assert_eq!(second.accepted(), 0, "the request was resent to the second endpoint");
}

#[tokio::test]
async fn a_body_sent_on_a_reused_connection_is_not_resent_on_a_fresh_one() {
    const BODY: usize = 1_000;
    // First request on a connection: answered with keep-alive. Second: the whole request
    // is read, then the origin hangs up. A stale-connection retry must not cover it.
    let origin = Origin::scripted(|mut stream, heads| async move {
        if read_head(&mut stream).await.is_none() {
            return;
        }
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
        let Some(head) = read_head(&mut stream).await else { return };
        let mut body = vec![0u8; BODY];
        if stream.read_exact(&mut body).await.is_ok() {
            let _ = heads.send(head);
        }
    })
    .await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;
    let mut c = gw.client().await;
    c.send(GET).await;
    assert_eq!(c.response().await.status, 200);
    c.send(format!("PUT /item HTTP/1.1\r\nHost: test\r\nContent-Length: {BODY}\r\n\r\n").as_bytes()).await;
    c.send(&vec![b'b'; BODY]).await;
    assert_error_page(&c.response().await, 502, &[origin.addr]);
    assert_eq!(origin.accepted(), 1, "the request was resent on a fresh connection");
}

#[tokio::test]
async fn a_close_after_an_interim_response_is_never_retried() {
    // First request on a connection: a normal keep-alive answer, so the connection is pooled.
    // Second one: "102 Processing" and then a hang-up. The origin had started on the request,
    // so resending it (a POST!) on a fresh connection would run it twice.
    let mut origin = Origin::scripted(|mut stream, heads| async move {
        let mut served = 0;
        while let Some(head) = read_head(&mut stream).await {
            let _ = heads.send(head);
            served += 1;
            let reply: &[u8] = if served == 1 {
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            } else {
                b"HTTP/1.1 102 Processing\r\n\r\n"
            };
            if stream.write_all(reply).await.is_err() || served > 1 {
                return;
            }
        }
    })
    .await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;
    assert_eq!(gw.get("/first").await.status, 200);

    let mut c = gw.client().await;
    c.send(b"DELETE /second HTTP/1.1\r\nHost: a\r\n\r\n").await;
    let processing = c.response().await;
    assert_eq!(processing.status, 102);
    assert_eq!(c.response().await.status, 502);

    let heads: Vec<String> = std::iter::from_fn(|| origin.heads.try_recv().ok()).collect();
    let deletes = heads.iter().filter(|h| h.starts_with("DELETE /second")).count();
    assert_eq!(deletes, 1, "the DELETE was resent: {heads:?}");
}
