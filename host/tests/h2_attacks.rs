//! The HTTP/2 attacks that broke other proxies, each sent for real (raw frames where a
//! client library would refuse): malformed requests never reach the origin, and floods cost
//! a bounded amount of work and end the connection, while other clients are served.

#![allow(clippy::unwrap_used)]

#[allow(unused_imports)]
mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::h2::{self as h2s, error_code, frame, literal, request_block, until_any, until_frame};
use support::h2::{CONTINUATION, END_HEADERS, END_STREAM, GOAWAY, HEADERS, PING, RST_STREAM, SETTINGS};
use support::{Origin, TestGateway};
use tokio::io::AsyncWriteExt;

/// A gateway speaking h2c by prior knowledge in front of a recording origin.
async fn gateway(extra: &str) -> (TestGateway, Origin) {
    let origin = Origin::echo().await;
    let toml = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\nh2c = true\n{extra}\n[upstreams.app]\nendpoints = [\"{}\"]\n\
         [[routes]]\nupstream = \"app\"\n",
        origin.addr
    );
    (TestGateway::start(&toml).await, origin)
}

/// A connection past the preface and SETTINGS exchange.
async fn open(addr: SocketAddr) -> tokio::net::TcpStream {
    let mut tcp = h2s::raw(addr).await;
    tcp.write_all(h2s::PREFACE).await.unwrap();
    tcp.write_all(&frame(SETTINGS, 0, 0, &[])).await.unwrap();
    tcp
}

/// Sends one request whose header block carries `extra` and expects the stream refused with
/// RST_STREAM(PROTOCOL_ERROR) (or the connection with GOAWAY(PROTOCOL_ERROR)).
async fn refused(addr: SocketAddr, block: Vec<u8>) {
    let mut tcp = open(addr).await;
    tcp.write_all(&frame(HEADERS, END_HEADERS | END_STREAM, 1, &block)).await.unwrap();
    let (kind, _, stream, payload) =
        until_any(&mut tcp, &[RST_STREAM, GOAWAY, HEADERS]).await.expect("the stream is reset");
    assert_ne!(kind, HEADERS, "a malformed request got a response");
    assert!(stream == 1 || stream == 0);
    assert_eq!(error_code(kind, &payload), h2s::PROTOCOL_ERROR);
}

#[tokio::test]
async fn connection_specific_fields_are_refused_and_never_forwarded() {
    let (gw, origin) = gateway("").await;
    let forbidden: [(&[u8], &[u8]); 6] = [
        (b"connection", b"keep-alive"),
        (b"keep-alive", b"timeout=5"),
        (b"transfer-encoding", b"chunked"),
        (b"upgrade", b"websocket"),
        (b"proxy-connection", b"keep-alive"),
        (b"te", b"gzip"),
    ];
    for (name, value) in forbidden {
        refused(gw.addr, request_block(&[literal(name, value)])).await;
    }
    assert_eq!(origin.accepted(), 0, "nothing reached the origin");
    // `te: trailers` is the one allowed form.
    let mut tcp = open(gw.addr).await;
    let block = request_block(&[literal(b"te", b"trailers")]);
    tcp.write_all(&frame(HEADERS, END_HEADERS | END_STREAM, 1, &block)).await.unwrap();
    let (_, stream, _) = until_frame(&mut tcp, HEADERS).await.expect("a response");
    assert_eq!(stream, 1);
}

#[tokio::test]
async fn uppercase_names_and_bad_pseudo_headers_are_malformed() {
    let (gw, origin) = gateway("").await;
    refused(gw.addr, request_block(&[literal(b"X-Upper", b"1")])).await;
    let pseudo =
        |fields: &[(&str, &str)]| fields.iter().flat_map(|(n, v)| literal(n.as_bytes(), v.as_bytes())).collect();
    // No :method.
    refused(gw.addr, pseudo(&[(":scheme", "http"), (":path", "/"), (":authority", "test")])).await;
    // An unknown pseudo-header.
    refused(
        gw.addr,
        pseudo(&[(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "t"), (":evil", "1")]),
    )
    .await;
    // A pseudo-header after a regular field.
    refused(
        gw.addr,
        pseudo(&[(":method", "GET"), ("x-a", "1"), (":scheme", "http"), (":path", "/"), (":authority", "t")]),
    )
    .await;
    // :path twice.
    refused(
        gw.addr,
        pseudo(&[(":method", "GET"), (":scheme", "http"), (":path", "/"), (":path", "/b"), (":authority", "t")]),
    )
    .await;
    // An empty :path.
    refused(gw.addr, pseudo(&[(":method", "GET"), (":scheme", "http"), (":path", ""), (":authority", "t")])).await;
    assert_eq!(origin.accepted(), 0);
}

#[tokio::test]
async fn concurrent_streams_are_capped_and_the_cap_is_checked() {
    let (gw, _origin) = gateway("").await;
    let mut tcp = open(gw.addr).await;
    let (_, _, settings) = until_frame(&mut tcp, SETTINGS).await.expect("server SETTINGS");
    let max_streams = settings
        .chunks(6)
        .find(|s| u16::from_be_bytes([s[0], s[1]]) == 0x3)
        .map(|s| u32::from_be_bytes([s[2], s[3], s[4], s[5]]));
    assert_eq!(max_streams, Some(100));
    let too_many = "[server]\nlisten = [\"127.0.0.1:0\"]\n[http2]\nmax_concurrent_streams = 129\n\
                    [upstreams.app]\nendpoints = [\"127.0.0.1:9\"]\n[[routes]]\nupstream = \"app\"\n";
    let err = portcullis::Config::from_toml_str(too_many, "gw.toml").unwrap_err().to_string();
    assert!(err.contains("`http2.max_concurrent_streams`: must be 1 to 128"), "{err}");
}

#[tokio::test]
async fn an_oversized_header_list_is_refused() {
    let (gw, origin) = gateway("").await;
    let mut tcp = open(gw.addr).await;
    let big = "v".repeat(16 * 1024);
    let fields: Vec<Vec<u8>> = (0..5).map(|i| literal(format!("x-big-{i}").as_bytes(), big.as_bytes())).collect();
    let block = request_block(&fields);
    // 80 KiB of fields in 16 KiB frames: HEADERS, then CONTINUATION.
    let mut pieces = block.chunks(16 * 1024).peekable();
    let first = pieces.next().unwrap();
    tcp.write_all(&frame(HEADERS, END_STREAM, 1, first)).await.unwrap();
    while let Some(piece) = pieces.next() {
        let flags = if pieces.peek().is_none() { END_HEADERS } else { 0 };
        if tcp.write_all(&frame(CONTINUATION, flags, 1, piece)).await.is_err() {
            break;
        }
    }
    // h2 answers 431 itself (its status Huffman-coded, so compared as "not 200", which
    // would be the one byte 0x88); or the connection closes. The origin never sees it.
    if let Some((_, stream, block)) = until_frame(&mut tcp, HEADERS).await {
        assert_eq!(stream, 1);
        assert_ne!(block.first(), Some(&0x88), "answered 200");
    }
    assert_eq!(origin.accepted(), 0);
}

/// A keep-alive origin that takes 5 ms per request (work a reset can waste) and counts the
/// requests it receives.
async fn counting_origin() -> (Origin, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    let origin = Origin::scripted(move |mut stream, _| {
        let counter = counter.clone();
        async move {
            while support::origin::read_head(&mut stream).await.is_some() {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
                if stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await.is_err() {
                    return;
                }
            }
        }
    })
    .await;
    (origin, count)
}

#[tokio::test]
async fn rapid_reset_ends_in_goaway_after_bounded_work() {
    let (origin, requests) = counting_origin().await;
    let toml = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\nh2c = true\n[http2]\nmax_resets = 100\n\
         [upstreams.app]\nendpoints = [\"{}\"]\n[[routes]]\nupstream = \"app\"\n",
        origin.addr
    );
    let gw = TestGateway::start(&toml).await;
    let mut client = h2s::client(h2s::raw(gw.addr).await).await;
    let mut goaway = None;
    let mut opened = 0;
    for i in 0..5000 {
        let ready = match client.clone().ready().await {
            Ok(ready) => ready,
            Err(err) => {
                goaway = Some(err);
                break;
            }
        };
        client = ready;
        let request = http::Request::get(format!("http://test/r/{i}")).body(()).unwrap();
        match client.send_request(request, false) {
            Ok((_response, mut stream)) => {
                opened += 1;
                stream.send_reset(h2::Reason::CANCEL);
            }
            Err(err) => {
                goaway = Some(err);
                break;
            }
        }
        tokio::task::yield_now().await;
    }
    // Wait for the connection's end if it has not surfaced yet.
    if goaway.is_none() {
        let ended = tokio::time::timeout(Duration::from_secs(5), client.ready()).await;
        goaway = match ended {
            Ok(Err(err)) => Some(err),
            _ => None,
        };
    }
    let err = goaway.expect("the connection ends before 5000 resets");
    assert!(err.is_go_away() || err.is_io() || err.reason() == Some(h2::Reason::ENHANCE_YOUR_CALM), "{err:?}");
    assert!(opened < 5000, "cut off after {opened} streams");
    // Bounded work: the origin saw at most the reset budget plus what was in flight.
    let reached = requests.load(Ordering::SeqCst);
    eprintln!("rapid reset: {opened} streams opened, {reached} requests reached the origin");
    assert!(reached <= 100 + 128 + 50, "{reached} requests reached the origin");
    // Everyone else is still served.
    assert_eq!(gw.get("/after").await.status, 200);
}

#[tokio::test]
async fn resetting_streams_under_way_counts_against_max_resets() {
    // Slower than rapid reset: each stream is reset only once its request reached the
    // origin, so `h2`'s pre-accept guard never sees it; the gateway's own count must.
    let (origin, requests) = counting_origin().await;
    let toml = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\nh2c = true\n[http2]\nmax_resets = 20\n\
         [upstreams.app]\nendpoints = [\"{}\"]\n[[routes]]\nupstream = \"app\"\n",
        origin.addr
    );
    let gw = TestGateway::start(&toml).await;
    let mut tcp = open(gw.addr).await;
    let mut sent = 0;
    for i in 0..100u32 {
        let before = requests.load(Ordering::SeqCst);
        let stream = 2 * i + 1;
        if tcp.write_all(&frame(HEADERS, END_HEADERS | END_STREAM, stream, &request_block(&[]))).await.is_err() {
            break;
        }
        let reached = async {
            while requests.load(Ordering::SeqCst) == before {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(2), reached).await.is_err() {
            break; // the gateway stopped taking streams
        }
        let cancel = 0x8u32.to_be_bytes();
        if tcp.write_all(&frame(RST_STREAM, 0, stream, &cancel)).await.is_err() {
            break;
        }
        sent += 1;
    }
    let (_, _, payload) = until_frame(&mut tcp, GOAWAY).await.expect("GOAWAY");
    assert_eq!(error_code(GOAWAY, &payload), h2s::ENHANCE_YOUR_CALM);
    assert!((21..=25).contains(&sent), "GOAWAY after {sent} resets");
    assert!(requests.load(Ordering::SeqCst) <= 25);
    assert_eq!(gw.get("/after").await.status, 200);
}

#[tokio::test]
async fn a_continuation_flood_is_cut_off() {
    let (gw, origin) = gateway("").await;
    let mut tcp = open(gw.addr).await;
    tcp.write_all(&frame(HEADERS, 0, 1, &request_block(&[]))).await.unwrap();
    // Endless CONTINUATION frames of junk-free, valid fields, never END_HEADERS.
    let piece: Vec<u8> = (0..400).flat_map(|i| literal(format!("x-f{i}").as_bytes(), b"v")).collect();
    let mut sent = 0usize;
    let flood = async {
        loop {
            if tcp.write_all(&frame(CONTINUATION, 0, 1, &piece)).await.is_err() {
                return;
            }
            sent += piece.len();
            if sent > 64 << 20 {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), flood).await;
    assert!(sent < 64 << 20, "the gateway kept reading a 64 MiB header block");
    assert_eq!(origin.accepted(), 0);
    assert_eq!(gw.get("/after").await.status, 200);
}

/// Writes `frame` until the gateway stops reading or closes, within `limit` bytes; returns
/// how much it took.
async fn flood(addr: SocketAddr, frame: Vec<u8>, limit: usize) -> usize {
    let mut tcp = open(addr).await;
    let mut batch = Vec::new();
    for _ in 0..1000 {
        batch.extend_from_slice(&frame);
    }
    let mut sent = 0usize;
    let writing = async {
        while sent < limit {
            if tcp.write_all(&batch).await.is_err() {
                return;
            }
            sent += batch.len();
        }
    };
    // Not reading anything back: acknowledgements pile up on the gateway's side, unless it
    // stops reading (then our writes stall once the socket buffers are full).
    let _ = tokio::time::timeout(Duration::from_secs(2), writing).await;
    sent
}

#[tokio::test]
async fn settings_and_ping_floods_stall_instead_of_buffering() {
    let (gw, _origin) = gateway("").await;
    let limit = 256 << 20;
    let settings = flood(gw.addr, frame(SETTINGS, 0, 0, &[0, 4, 0, 1, 0, 0]), limit).await;
    assert!(settings < limit, "the gateway read 256 MiB of SETTINGS without its ACKs being read");
    let pings = flood(gw.addr, frame(PING, 0, 0, &[7; 8]), limit).await;
    assert!(pings < limit, "the gateway read 256 MiB of PINGs without its PONGs being read");
    assert_eq!(gw.get("/after").await.status, 200);
}

#[tokio::test]
async fn no_h2c_upgrade_from_http1() {
    // Even on a route that tunnels WebSockets, an h2c upgrade is not offered to the origin.
    let origin = Origin::echo().await;
    let toml = format!(
        "[upstreams.app]\nendpoints = [\"{}\"]\n[[routes]]\nupstream = \"app\"\nallow_upgrade = [\"websocket\"]\n",
        origin.addr
    );
    let gw = TestGateway::start(&toml).await;
    let resp = gw
        .request(
            "GET",
            "/",
            "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n",
        )
        .await;
    assert_eq!(resp.status, 200, "served as HTTP/1.1, not switched");
    for name in ["upgrade", "http2-settings", "connection"] {
        assert!(resp.echoed_header(name).is_empty(), "{name} reached the origin");
    }
    // Not even when listed without `Connection` naming it.
    let resp = gw.request("GET", "/", "HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n").await;
    assert!(resp.echoed_header("http2-settings").is_empty());
}
