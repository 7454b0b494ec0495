//! Bodies on the move: gigabyte uploads and downloads through the real binary in bounded
//! memory, then the framing cases a streaming proxy must get exactly right (trailers,
//! close-delimited bodies, bodiless responses, `Expect`, 1xx, pipelining).
#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::time::Instant;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use support::client::{PatternCheck, Wire};
use support::gateway::GatewayProcess;
use support::origin::{head_field, head_target};
use support::{Origin, TestGateway};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
/// Chunked variants move less: they prove the re-framing path, not the size again.
const CHUNKED_SIZE: u64 = 256 * MIB;
/// The acceptance bound on the gateway's peak RSS while a body streams through it.
const MAX_PEAK_RSS: u64 = 64 * MIB;

// === gigabyte bodies through the real binary ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_1_gib_with_content_length_in_bounded_memory() {
    let origin = Origin::scripted(upload_sink).await;
    let gw = streaming_gateway(origin.addr);
    let started = Instant::now();

    let mut wire = Wire::new(TcpStream::connect(gw.addr).await.unwrap());
    wire.write(format!("PUT /upload HTTP/1.1\r\nHost: test\r\nContent-Length: {GIB}\r\n\r\n").as_bytes()).await;
    wire.send_pattern(GIB, MIB as usize).await;
    let (status, report) = small_response(&mut wire).await;

    assert_eq!(status, 200);
    assert_eq!(report, format!("received {GIB} bytes, first mismatch None, trailers []"));
    assert_peak_rss_bounded(&gw, "1 GiB Content-Length upload", started);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_1_gib_with_content_length_in_bounded_memory() {
    let origin = Origin::scripted(|stream, heads| download_source(stream, heads, GIB, false)).await;
    let gw = streaming_gateway(origin.addr);
    let started = Instant::now();

    let mut wire = Wire::new(TcpStream::connect(gw.addr).await.unwrap());
    wire.write(b"GET /download HTTP/1.1\r\nHost: test\r\n\r\n").await;
    let resp = wire.response_head().await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-length"), Some(GIB.to_string().as_str()));
    let mut check = PatternCheck::default();
    wire.length_body(GIB, |piece| check.feed(piece)).await;

    assert_eq!((check.received, check.first_mismatch), (GIB, None));
    assert_peak_rss_bounded(&gw, "1 GiB Content-Length download", started);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_a_chunked_body_in_bounded_memory() {
    let origin = Origin::scripted(upload_sink).await;
    let gw = streaming_gateway(origin.addr);
    let started = Instant::now();

    let mut wire = Wire::new(TcpStream::connect(gw.addr).await.unwrap());
    wire.write(b"POST /upload HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n").await;
    wire.send_pattern_chunked(CHUNKED_SIZE, 256 * 1024, &["X-Sum: done"]).await;
    let (status, report) = small_response(&mut wire).await;

    assert_eq!(status, 200);
    assert_eq!(report, format!("received {CHUNKED_SIZE} bytes, first mismatch None, trailers [X-Sum: done]"));
    assert_peak_rss_bounded(&gw, "256 MiB chunked upload", started);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_a_chunked_body_in_bounded_memory() {
    let origin = Origin::scripted(|stream, heads| download_source(stream, heads, CHUNKED_SIZE, true)).await;
    let gw = streaming_gateway(origin.addr);
    let started = Instant::now();

    let mut wire = Wire::new(TcpStream::connect(gw.addr).await.unwrap());
    wire.write(b"GET /download HTTP/1.1\r\nHost: test\r\nTE: trailers\r\n\r\n").await;
    let resp = wire.response_head().await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("transfer-encoding"), Some("chunked"));
    let mut check = PatternCheck::default();
    let trailers = wire.chunked_body(|piece| check.feed(piece)).await;

    assert_eq!((check.received, check.first_mismatch), (CHUNKED_SIZE, None));
    assert_eq!(trailers, [("X-Sum".to_owned(), "done".to_owned())]);
    assert_peak_rss_bounded(&gw, "256 MiB chunked download", started);
}

/// The real binary, two workers, bodies up to 2 GiB, one route to `origin`.
fn streaming_gateway(origin: SocketAddr) -> GatewayProcess {
    GatewayProcess::start(&format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\nworkers = 2\n\
         [limits]\nmax_body_bytes = \"2GiB\"\n\
         [upstreams.app]\nendpoints = [\"{origin}\"]\n\
         [[routes]]\nmatch = {{ path_prefix = \"/\" }}\nupstream = \"app\"\n"
    ))
}

fn assert_peak_rss_bounded(gw: &GatewayProcess, what: &str, started: Instant) {
    let peak = gw.peak_rss();
    eprintln!("{what}: gateway peak RSS {:.1} MiB, {:.1?}", peak as f64 / MIB as f64, started.elapsed());
    assert!(peak < MAX_PEAK_RSS, "{what}: gateway peak RSS {peak} bytes is not under {MAX_PEAK_RSS}");
}

/// An origin that streams one request body (Content-Length or chunked) through a pattern
/// check and answers with what it received.
async fn upload_sink(stream: TcpStream, heads: mpsc::UnboundedSender<String>) {
    let mut wire = Wire::new(stream);
    let Some(head) = wire.head().await else { return };
    let mut check = PatternCheck::default();
    let trailers = match head_field(&head, "content-length") {
        Some(len) => {
            wire.length_body(len.parse().unwrap(), |piece| check.feed(piece)).await;
            Vec::new()
        }
        None => {
            assert_eq!(head_field(&head, "transfer-encoding").as_deref(), Some("chunked"), "{head}");
            wire.chunked_body(|piece| check.feed(piece)).await
        }
    };
    let _ = heads.send(head);
    let trailers: Vec<String> = trailers.iter().map(|(n, v)| format!("{n}: {v}")).collect();
    let report = format!(
        "received {} bytes, first mismatch {:?}, trailers [{}]",
        check.received,
        check.first_mismatch,
        trailers.join(", ")
    );
    let reply = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{report}", report.len());
    wire.write(reply.as_bytes()).await;
}

/// An origin that answers one request with `len` pattern bytes, chunked (with a trailer)
/// or with Content-Length.
async fn download_source(stream: TcpStream, heads: mpsc::UnboundedSender<String>, len: u64, chunked: bool) {
    let mut wire = Wire::new(stream);
    let Some(head) = wire.head().await else { return };
    let _ = heads.send(head);
    if chunked {
        wire.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n").await;
        wire.send_pattern_chunked(len, 256 * 1024, &["X-Sum: done"]).await;
    } else {
        wire.write(format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n").as_bytes()).await;
        wire.send_pattern(len, MIB as usize).await;
    }
}

/// Status and text body of a small Content-Length response.
async fn small_response(wire: &mut Wire) -> (u16, String) {
    let resp = wire.response_head().await;
    let len: u64 = resp.header("content-length").expect("no Content-Length").parse().unwrap();
    let mut body = Vec::new();
    wire.length_body(len, |piece| body.extend_from_slice(piece)).await;
    (resp.status, String::from_utf8(body).unwrap())
}

// === trailers ===

#[tokio::test]
async fn chunked_request_is_forwarded_chunked_with_its_trailers() {
    let mut origin = Origin::scripted(|stream, heads| async move {
        let mut wire = Wire::new(stream);
        let Some(head) = wire.head().await else { return };
        let mut body = Vec::new();
        let trailers = wire.chunked_body(|piece| body.extend_from_slice(piece)).await;
        let _ = heads.send(head);
        let _ = heads.send(String::from_utf8(body).unwrap());
        let _ = heads.send(format!("{trailers:?}"));
        wire.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
    })
    .await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;
    let mut c = gw.client().await;
    c.send(
        b"POST /submit HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n\
          5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Checksum: abc123\r\nContent-Length: 99\r\nX-Count: 2\r\n\r\n",
    )
    .await;
    let resp = c.response().await;
    assert_eq!((resp.status, resp.text().as_str()), (200, "ok"));

    let head = origin.heads.recv().await.unwrap();
    assert_eq!(head_field(&head, "transfer-encoding").as_deref(), Some("chunked"), "{head}");
    assert_eq!(head_field(&head, "content-length"), None, "{head}");
    assert_eq!(origin.heads.recv().await.unwrap(), "hello world");
    // Framing fields are never taken from a trailer section (RFC 9110 §6.5.1).
    assert_eq!(origin.heads.recv().await.unwrap(), r#"[("X-Checksum", "abc123"), ("X-Count", "2")]"#);
}

#[tokio::test]
async fn chunked_response_trailers_reach_an_http11_client() {
    let origin = Origin::replying(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/grpc\r\nTransfer-Encoding: chunked\r\n\
          Trailer: grpc-status, grpc-message\r\n\r\n\
          5\r\nhello\r\n0\r\ngrpc-status: 0\r\ngrpc-message: all good\r\n\r\n",
    )
    .await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;
    let mut c = gw.client().await;
    c.send(b"POST /pkg.Service/Call HTTP/1.1\r\nHost: test\r\nTE: trailers\r\nContent-Length: 0\r\n\r\n").await;
    let resp = c.response().await;

    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("transfer-encoding"), Some("chunked"));
    assert_eq!(resp.text(), "hello");
    assert_eq!(
        resp.trailers,
        [("grpc-status".to_owned(), "0".to_owned()), ("grpc-message".to_owned(), "all good".to_owned())]
    );
}

// === close-delimited origin responses ===

const CLOSE_DELIMITED: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nthe body ends when the origin closes";

#[tokio::test]
async fn close_delimited_response_is_rechunked_for_http11_and_the_connection_stays_open() {
    let origin = Origin::replying(CLOSE_DELIMITED).await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;
    let mut c = gw.client().await;
    for path in ["/first", "/second"] {
        c.send(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes()).await;
        let resp = c.response().await;
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("transfer-encoding"), Some("chunked"), "{path}");
        assert_eq!(resp.header("content-length"), None);
        assert_eq!(resp.header("connection"), None, "{path}: the client connection should stay open");
        assert_eq!(resp.text(), "the body ends when the origin closes");
    }
    assert_eq!(origin.accepted(), 2, "a close-delimited origin connection cannot be reused");
}

#[tokio::test]
async fn close_delimited_response_reaches_an_http10_client_raw_then_closes() {
    let origin = Origin::replying(CLOSE_DELIMITED).await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;
    for request in [
        &b"GET / HTTP/1.0\r\nHost: test\r\n\r\n"[..],
        // Keep-alive cannot be honoured: without chunked, only a close ends the body.
        &b"GET / HTTP/1.0\r\nHost: test\r\nConnection: keep-alive\r\n\r\n"[..],
    ] {
        let mut c = gw.client().await;
        c.send(request).await;
        let raw = String::from_utf8(c.read_to_close().await).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert_eq!(head_field(&format!("{head}\r\n"), "connection").as_deref(), Some("close"), "{head}");
        assert_eq!(head_field(&format!("{head}\r\n"), "transfer-encoding"), None, "{head}");
        assert_eq!(head_field(&format!("{head}\r\n"), "content-length"), None, "{head}");
        assert_eq!(body, "the body ends when the origin closes");
    }
}

// === bodiless responses ===

fn bodiless_origin(head: &str) -> Vec<u8> {
    let reply: &[u8] = match (head.split(' ').next().unwrap(), head_target(head)) {
        ("HEAD", _) => b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1234\r\n\r\n",
        (_, "/204") => b"HTTP/1.1 204 No Content\r\nX-Deleted: yes\r\n\r\n",
        (_, "/304") => b"HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 1234\r\n\r\n",
        _ => b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nafter",
    };
    reply.to_vec()
}

#[tokio::test]
async fn head_response_keeps_its_content_length_and_has_no_body() {
    let origin = Origin::answering(bodiless_origin).await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;
    let mut c = gw.client().await;
    c.head_request = true;
    c.send(b"HEAD /file HTTP/1.1\r\nHost: test\r\n\r\n").await;
    let resp = c.response().await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-length"), Some("1234"));
    assert_eq!(resp.header("transfer-encoding"), None);

    // Any body bytes after the HEAD response would corrupt the next one on this connection.
    c.head_request = false;
    c.send(b"GET /after HTTP/1.1\r\nHost: test\r\n\r\n").await;
    let next = c.response().await;
    assert_eq!((next.status, next.text().as_str()), (200, "after"));
}

#[tokio::test]
async fn no_content_and_not_modified_have_no_body() {
    let origin = Origin::answering(bodiless_origin).await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;
    let mut c = gw.client().await;
    c.send(b"DELETE /204 HTTP/1.1\r\nHost: test\r\n\r\n").await;
    let resp = c.response().await;
    assert_eq!(resp.status, 204);
    assert_eq!(resp.header("x-deleted"), Some("yes"));
    assert_eq!(resp.header("content-length"), None, "a 204 must not carry Content-Length");
    assert_eq!(resp.header("transfer-encoding"), None);

    c.send(b"GET /304 HTTP/1.1\r\nHost: test\r\nIf-None-Match: \"v1\"\r\n\r\n").await;
    let resp = c.response().await;
    assert_eq!(resp.status, 304);
    assert_eq!(resp.header("etag"), Some("\"v1\""));
    assert_eq!(resp.header("content-length"), Some("1234"), "a 304 keeps the length of what it describes");
    assert_eq!(resp.header("transfer-encoding"), None);

    c.send(b"GET /after HTTP/1.1\r\nHost: test\r\n\r\n").await;
    let next = c.response().await;
    assert_eq!((next.status, next.text().as_str()), (200, "after"));
}

// === Expect: 100-continue ===

#[tokio::test]
async fn expect_100_continue_is_answered_before_the_body_is_sent() {
    let origin = Origin::echo().await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;
    let mut c = gw.client().await;
    c.send(b"POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n").await;
    // Nothing of the body is sent until the gateway asks for it.
    let interim = c.response().await;
    assert_eq!(interim.status, 100);

    c.send(b"hello").await;
    let resp = c.response().await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.echo()["body_bytes"], 5);
    assert!(resp.echoed_header("expect").is_empty(), "the gateway answers Expect itself");
}

#[tokio::test]
async fn expect_on_an_unknown_route_gets_404_without_100() {
    let origin = Origin::echo().await;
    let gw = TestGateway::start(&format!(
        "[upstreams.app]\nendpoints = [\"{}\"]\n[[routes]]\nmatch = {{ path_prefix = \"/api\" }}\nupstream = \"app\"\n",
        origin.addr
    ))
    .await;
    let mut c = gw.client().await;
    c.send(b"POST /elsewhere HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n").await;
    let resp = c.response().await;
    assert_eq!(resp.status, 404, "the first response must be the refusal, not 100 Continue");
    assert_eq!(resp.header("connection"), Some("close"));
    assert_eq!(origin.accepted(), 0);
}

#[tokio::test]
async fn expect_with_an_oversized_body_gets_413_without_100() {
    let origin = Origin::echo().await;
    let gw = TestGateway::in_front_of(origin.addr, "[limits]\nmax_body_bytes = \"1KiB\"").await;
    let mut c = gw.client().await;
    c.send(b"PUT /big HTTP/1.1\r\nHost: test\r\nContent-Length: 1025\r\nExpect: 100-continue\r\n\r\n").await;
    let resp = c.response().await;
    assert_eq!(resp.status, 413, "the first response must be the refusal, not 100 Continue");
    assert_eq!(origin.accepted(), 0);
}

// === 1xx and pipelining ===

#[tokio::test]
async fn early_hints_are_forwarded_before_the_final_response() {
    let origin = Origin::replying(
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n\
          HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\npage",
    )
    .await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;
    let mut c = gw.client().await;
    c.send(b"GET /page HTTP/1.1\r\nHost: test\r\n\r\n").await;
    let hints = c.response().await;
    assert_eq!(hints.status, 103);
    assert_eq!(hints.header("link"), Some("</style.css>; rel=preload; as=style"));
    let resp = c.response().await;
    assert_eq!((resp.status, resp.text().as_str()), (200, "page"));

    // HTTP/1.0 has no 1xx: that client sees only the final response.
    let mut c = gw.client().await;
    c.send(b"GET /page HTTP/1.0\r\nHost: test\r\n\r\n").await;
    let resp = c.response().await;
    assert_eq!((resp.status, resp.text().as_str()), (200, "page"));
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let origin = Origin::echo().await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;
    let mut c = gw.client().await;
    c.send(
        b"GET /first HTTP/1.1\r\nHost: test\r\n\r\n\
          POST /second HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\n\r\nabc\
          GET /third?x=3 HTTP/1.1\r\nHost: test\r\n\r\n",
    )
    .await;
    for target in ["/first", "/second", "/third?x=3"] {
        let resp = c.response().await;
        assert_eq!(resp.status, 200);
        assert_eq!(resp.echo()["target"], target);
    }
    c.stream.shutdown().await.unwrap();
    assert!(c.closed().await);
}
