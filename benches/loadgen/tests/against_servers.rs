//! The load generator against real servers on loopback: an HTTP/1.1 one that frames bodies
//! every way the protocol allows (and sometimes closes), and an h2 one.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use portcullis_loadgen::{fetch, run, Pace, Plan, Protocol, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A server on a free loopback port, on a thread of its own, running `connection` for each
/// connection it accepts.
fn serve<F, Fut>(connection: F) -> SocketAddr
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        tokio::task::LocalSet::new().block_on(&runtime, async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                tokio::task::spawn_local(connection(stream));
            }
        });
    });
    addr
}

/// `/len` (Content-Length), `/chunked`, `/close` (body until the connection ends), `/once`
/// (`Connection: close`), `/tagged` (with `x-tag`); anything else 404. Each body is `hello`.
fn http1_server() -> SocketAddr {
    serve(|mut stream| async move {
        let mut buf = Vec::new();
        loop {
            let end = loop {
                if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break at + 4;
                }
                let mut chunk = [0u8; 1024];
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            };
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            buf.drain(..end);
            let target = head.split(' ').nth(1).unwrap_or_default().to_owned();
            let (reply, close): (&[u8], bool) = match target.as_str() {
                "/len" => (b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello", false),
                "/chunked" => (
                    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhe\r\n3;x=1\r\nllo\r\n0\r\nt: 1\r\n\r\n",
                    false,
                ),
                "/close" => (b"HTTP/1.1 200 OK\r\n\r\nhello", true),
                "/once" => (b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 5\r\n\r\nhello", true),
                "/tagged" => (b"HTTP/1.1 200 OK\r\nx-tag: 1\r\ncontent-length: 5\r\n\r\nhello", false),
                _ => (b"HTTP/1.1 404 Not Found\r\ncontent-length: 5\r\n\r\nhello", false),
            };
            if stream.write_all(reply).await.is_err() || close {
                return;
            }
        }
    })
}

/// An h2 server answering every stream `200` with `hello`, or `404` for `/missing`.
fn h2_server() -> SocketAddr {
    serve(|stream| async move {
        let mut connection = h2::server::handshake(stream).await.unwrap();
        while let Some(Ok((request, mut respond))) = connection.accept().await {
            let status = if request.uri().path() == "/missing" { 404 } else { 200 };
            let response = http::Response::builder().status(status).body(()).unwrap();
            let mut send = respond.send_response(response, false).unwrap();
            send.send_data(bytes::Bytes::from_static(b"hello"), true).unwrap();
        }
    })
}

#[test]
fn fetch_reads_every_http1_framing() {
    let addr = http1_server();
    for target in ["/len", "/chunked", "/close", "/once"] {
        let answer = fetch(addr, Protocol::Http1, &Request::get(target)).unwrap();
        assert_eq!((answer.status, answer.body.as_slice()), (200, &b"hello"[..]), "{target}");
    }
    assert_eq!(fetch(addr, Protocol::Http1, &Request::get("/nope")).unwrap().status, 404);
}

#[test]
fn closed_loop_counts_expected_unexpected_and_reconnects() {
    let addr = http1_server();
    let mix = vec![
        Request::get("/len"),
        Request::get("/chunked"),
        Request::get("/once"),
        Request::get("/tagged").must_carry("X-Tag"),
        Request::get("/nope").status(404),
        Request::get("/len").must_carry("x-tag"),
    ];
    let plan = Plan {
        addr,
        protocol: Protocol::Http1,
        connections: 2,
        streams: 1,
        mix,
        pace: Pace::Closed { duration: Duration::from_millis(300) },
    };
    let outcome = run(&[plan]).unwrap().remove(0);
    assert_eq!(outcome.errors, 0, "{:?}", outcome.first_problem);
    // One in six answers lacks its required field.
    let answered = outcome.expected + outcome.unexpected;
    assert!(answered >= 60, "{answered} answers in 0.3 s");
    assert!(outcome.unexpected * 6 >= answered - 6 && outcome.unexpected * 6 <= answered + 6);
    assert_eq!(outcome.first_problem.as_deref(), Some("/len answered without `x-tag`"));
    // `/once` closes its connection: the lane reconnects for the next request.
    assert!(outcome.connections >= 2 + answered / 6 - 2, "{} connections", outcome.connections);
    assert_eq!(outcome.body_bytes, answered * 5);
    assert!(outcome.percentiles().p50 > 0);
}

#[test]
fn open_loop_keeps_its_rate_over_h2() {
    let addr = h2_server();
    let plan = Plan {
        addr,
        protocol: Protocol::H2c,
        connections: 2,
        streams: 4,
        mix: vec![Request::get("/a"), Request::get("/missing").status(404)],
        pace: Pace::Open { rate: 400, duration: Duration::from_millis(500) },
    };
    let outcome = run(&[plan]).unwrap().remove(0);
    assert!(outcome.clean(), "{:?}", outcome.first_problem);
    // Due times are spread over the run: exactly rate × duration requests.
    assert_eq!(outcome.expected, 200);
    assert_eq!(outcome.connections, 2);
    assert_eq!(fetch(addr, Protocol::H2c, &Request::get("/x")).unwrap().body, b"hello");
}

#[test]
fn a_refused_connection_is_an_error_not_a_hang() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let plan = Plan {
        addr,
        protocol: Protocol::Http1,
        connections: 1,
        streams: 1,
        mix: vec![Request::get("/")],
        pace: Pace::Closed { duration: Duration::from_millis(100) },
    };
    let outcome = run(&[plan]).unwrap().remove(0);
    assert_eq!((outcome.expected, outcome.errors), (0, 1));
    assert!(outcome.first_problem.unwrap().contains("cannot connect"));
    assert!(fetch(addr, Protocol::H2c, &Request::get("/")).is_err());
}
