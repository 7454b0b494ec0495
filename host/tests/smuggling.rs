//! Request smuggling: every message that two HTTP/1.1 parsers could frame differently is
//! refused with a 4xx (or 501) and `Connection: close`, and never reaches an origin. Bytes
//! pipelined behind a refused request are never read as a request.
//!
//! Each case runs against a fresh gateway in front of an origin that records every head it
//! receives; after the refusal a valid control request proves the gateway and origin work,
//! so "the origin saw nothing" is not vacuous.
#![allow(clippy::unwrap_used)]

mod support;

use support::client::IO_TIMEOUT;
use support::{Origin, TestGateway};

/// What the recording origin answers; it closes after one response, so nothing is pooled.
const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

/// Sends `raw` on a fresh connection and asserts the refusal: `status`, `Connection: close`,
/// nothing after the one response, and no origin connection, then runs the control request.
async fn assert_refused(raw: &[u8], status: u16) {
    let shown = raw.escape_ascii().to_string();
    let mut origin = Origin::replying(OK).await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;

    let mut c = gw.client().await;
    c.send(raw).await;
    let resp = c.response().await;
    assert_eq!(resp.status, status, "{shown}: {}", resp.text());
    assert_eq!(resp.header("connection"), Some("close"), "{shown}");
    assert!(c.closed().await, "{shown}: the connection stayed open or answered again");
    assert_eq!(origin.accepted(), 0, "{shown}: the origin was contacted");

    // Accepts are served in order and the control's origin connection comes last, so its
    // being the only one proves no connection for the refused request was still pending.
    let control = gw.get("/control").await;
    assert_eq!(control.status, 200, "{shown}: control request failed: {}", control.text());
    assert_eq!(origin.accepted(), 1, "{shown}");
    let head = origin.heads.recv().await.unwrap();
    assert!(head.starts_with("GET /control HTTP/1.1\r\n"), "{shown}: origin saw {head:?}");
    assert!(origin.heads.try_recv().is_err(), "{shown}: the origin saw another head");
}

async fn assert_all_refused(cases: &[&[u8]], status: u16) {
    for raw in cases {
        assert_refused(raw, status).await;
    }
}

// === Content-Length and Transfer-Encoding ===

#[tokio::test]
async fn content_length_with_transfer_encoding_is_refused_in_either_order() {
    assert_all_refused(
        &[
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
        ],
        400,
    )
    .await;
}

#[tokio::test]
async fn ambiguous_content_length_is_refused() {
    assert_all_refused(
        &[
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\nhello!",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello",
        ],
        400,
    )
    .await;
}

#[tokio::test]
async fn obfuscated_transfer_encoding_is_refused() {
    assert_all_refused(
        &[
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\x0b\r\n\r\n0\r\n\r\n",
        ],
        400,
    )
    .await;
}

#[tokio::test]
async fn transfer_encoding_in_http10_is_refused() {
    assert_refused(b"POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400).await;
}

#[tokio::test]
async fn a_coding_before_chunked_is_not_implemented() {
    assert_refused(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501).await;
}

// === Head syntax ===

#[tokio::test]
async fn obs_fold_is_refused() {
    assert_all_refused(
        &[
            b"GET / HTTP/1.1\r\nHost: a\r\nX-Long: a\r\n b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nX-Long: a\r\n\tb\r\n\r\n",
            // Whitespace before the first field line (RFC 9112 §2.2).
            b"GET / HTTP/1.1\r\n Host: a\r\n\r\n",
        ],
        400,
    )
    .await;
}

#[tokio::test]
async fn bare_lf_line_endings_are_refused() {
    assert_all_refused(
        &[
            b"GET / HTTP/1.1\nHost: a\n\n",
            b"GET / HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\n\n",
        ],
        400,
    )
    .await;
}

#[tokio::test]
async fn control_bytes_in_a_head_are_refused() {
    assert_all_refused(
        &[
            b"GET / HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n",
        ],
        400,
    )
    .await;
}

#[tokio::test]
async fn invalid_header_names_are_refused() {
    assert_all_refused(
        &[
            b"GET / HTTP/1.1\r\nHost: a\r\nX-A : 1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nX A: 1\r\n\r\n",
        ],
        400,
    )
    .await;
}

#[tokio::test]
async fn host_must_appear_exactly_once_in_http11() {
    assert_all_refused(&[b"GET / HTTP/1.1\r\n\r\n", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"], 400).await;
}

#[tokio::test]
async fn connect_is_not_allowed() {
    assert_refused(b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 405).await;
}

#[tokio::test]
async fn an_unknown_expectation_fails() {
    assert_all_refused(
        &[
            b"GET / HTTP/1.1\r\nHost: a\r\nExpect: something-else\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nExpect: something-else\r\nContent-Length: 5\r\n\r\nhello",
        ],
        417,
    )
    .await;
}

// === Pipelined smuggling payloads ===

const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";

#[tokio::test]
async fn cl_te_payload_is_refused_and_the_smuggled_request_never_runs() {
    // A Content-Length reader sees one request; a chunked reader sees a second one.
    let body = format!("0\r\n\r\n{SMUGGLED}");
    let raw = format!(
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\nTransfer-Encoding: chunked\r\n\r\n{body}",
        body.len()
    );
    assert_refused(raw.as_bytes(), 400).await;
}

#[tokio::test]
async fn te_cl_payload_is_refused_and_the_smuggled_request_never_runs() {
    // A chunked reader sees one request; a Content-Length reader stops after the size line
    // and reads the chunk data as a second request.
    let size_line = format!("{:x}\r\n", SMUGGLED.len());
    let raw = format!(
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\nTransfer-Encoding: chunked\r\n\r\n{size_line}{SMUGGLED}\r\n0\r\n\r\n",
        size_line.len()
    );
    assert_refused(raw.as_bytes(), 400).await;
}

#[tokio::test]
async fn te_te_payload_is_refused_and_the_smuggled_request_never_runs() {
    // One parser ignores the obfuscated coding and falls back to Content-Length.
    let size_line = format!("{:x}\r\n", SMUGGLED.len());
    let raw = format!(
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: xchunked\r\n\r\n{size_line}{SMUGGLED}\r\n0\r\n\r\n",
        size_line.len()
    );
    assert_refused(raw.as_bytes(), 400).await;
}

#[tokio::test]
async fn valid_requests_pipelined_after_a_refused_one_are_not_processed() {
    let raw = [
        &b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"[..],
        b"GET /one HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /two HTTP/1.1\r\nHost: a\r\n\r\n",
    ]
    .concat();
    assert_refused(&raw, 400).await;
}

// === Chunked body framing ===

/// Sends a chunked POST whose body is `body`. The head is valid, so the gateway has already
/// forwarded it when the bad framing arrives: the client must get 400 and a close, and the
/// origin a connection that ends before any last chunk.
async fn assert_body_refused(body: &[u8]) {
    let shown = body.escape_ascii().to_string();
    let mut origin = Origin::recording().await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;

    let mut c = gw.client().await;
    c.send(&[&b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"[..], body].concat()).await;
    let resp = c.response().await;
    assert_eq!(resp.status, 400, "{shown}: {}", resp.text());
    assert_eq!(resp.header("connection"), Some("close"), "{shown}");
    assert!(c.closed().await, "{shown}: the connection stayed open or answered again");

    let seen = tokio::time::timeout(IO_TIMEOUT, origin.heads.recv()).await.unwrap().unwrap();
    assert!(seen.starts_with("POST /upload HTTP/1.1\r\n"), "{shown}: origin saw {seen:?}");
    let (_, forwarded) = seen.split_once("\r\n\r\n").unwrap();
    assert!(!forwarded.contains("0\r\n\r\n"), "{shown}: the origin received a complete body: {forwarded:?}");
    assert!(!forwarded.contains("smuggled"), "{shown}: bytes after the bad chunk were forwarded: {forwarded:?}");
    assert_eq!(origin.accepted(), 1, "{shown}");
}

#[tokio::test]
async fn invalid_chunk_sizes_are_refused() {
    for body in [
        &b"xyz\r\nhello\r\n0\r\n\r\n"[..],
        b"-1\r\nhello\r\n0\r\n\r\n",
        b"11111111111111111\r\nhello\r\n0\r\n\r\n",
        b"0x5\r\nhello\r\n0\r\n\r\n",
        // Valid chunks first: what was relayed so far must not be closed off as complete.
        b"3\r\nabc\r\nxyz\r\nsmuggled\r\n0\r\n\r\n",
    ] {
        assert_body_refused(body).await;
    }
}

#[tokio::test]
async fn chunk_data_without_its_crlf_is_refused() {
    for body in [
        &b"5\r\nhelloXX0\r\n\r\n"[..],
        b"5\r\nhello\n0\r\n\r\n",
        b"5\r\nhellosmuggled\r\n0\r\n\r\n",
        b"3\r\nabc\r\n5\r\nhello0\r\n\r\n",
    ] {
        assert_body_refused(body).await;
    }
}
