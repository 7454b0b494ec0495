#![allow(clippy::unwrap_used)]

use std::io;
use std::time::Duration;

use tokio::net::TcpListener;

use super::{connect, ConnectError, Upstream};
use crate::config::{Balance, UpstreamConfig};

fn upstream(endpoints: &[&str], max_attempts: u32) -> Upstream {
    Upstream::new(
        "app",
        &UpstreamConfig {
            endpoints: endpoints.iter().map(|e| e.to_string()).collect(),
            balance: Balance::RoundRobin,
            max_attempts,
            protocol: crate::config::UpstreamProtocol::Http1,
            tls: None,
        },
    )
    .unwrap()
}

fn attempts(up: &Upstream) -> Vec<&str> {
    up.attempts().collect()
}

#[test]
fn round_robin_rotates_the_start() {
    let up = upstream(&["a:1", "b:1", "c:1"], 1);
    let firsts: Vec<_> = (0..7).map(|_| attempts(&up)).collect();
    let expected = [["a:1"], ["b:1"], ["c:1"], ["a:1"], ["b:1"], ["c:1"], ["a:1"]];
    assert_eq!(firsts, expected);
}

#[test]
fn attempts_walk_the_ring_distinct() {
    let up = upstream(&["a:1", "b:1", "c:1"], 3);
    assert_eq!(attempts(&up), ["a:1", "b:1", "c:1"]);
    assert_eq!(attempts(&up), ["b:1", "c:1", "a:1"]);
    assert_eq!(attempts(&up), ["c:1", "a:1", "b:1"]);
    assert_eq!(attempts(&up), ["a:1", "b:1", "c:1"]);
}

#[test]
fn max_attempts_bounds_and_is_clamped() {
    let up = upstream(&["a:1", "b:1", "c:1"], 2);
    assert_eq!(attempts(&up), ["a:1", "b:1"]);
    assert_eq!(attempts(&up), ["b:1", "c:1"]);

    let up = upstream(&["a:1", "b:1"], 10);
    assert_eq!(up.max_attempts(), 2);
    assert_eq!(attempts(&up), ["a:1", "b:1"]);

    let up = upstream(&["a:1", "b:1"], 0);
    assert_eq!(attempts(&up), ["a:1"]);
}

#[test]
fn no_endpoints_means_no_attempts() {
    let up = upstream(&[], 3);
    assert_eq!(attempts(&up), Vec::<&str>::new());
}

#[test]
fn cursor_wraparound_does_not_panic() {
    let up = upstream(&["a:1", "b:1", "c:1"], 3);
    up.next.store(usize::MAX, std::sync::atomic::Ordering::Relaxed);
    let got = attempts(&up);
    assert_eq!(got.len(), 3);
    let mut sorted = got.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 3, "{got:?} not distinct");
}

#[tokio::test]
async fn connect_sets_nodelay() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = listener.local_addr().unwrap().to_string();
    let stream = connect(&endpoint, Duration::from_secs(5)).await.unwrap();
    assert!(stream.nodelay().unwrap());
}

#[tokio::test]
async fn connect_refused_is_an_io_error_naming_the_endpoint() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = listener.local_addr().unwrap().to_string();
    drop(listener);
    let err = connect(&endpoint, Duration::from_secs(5)).await.unwrap_err();
    match &err {
        ConnectError::Io { endpoint: e, source } => {
            assert_eq!(e, &endpoint);
            assert_eq!(source.kind(), io::ErrorKind::ConnectionRefused);
        }
        other => panic!("expected Io, got {other:?}"),
    }
    assert!(err.to_string().starts_with(&format!("connect to {endpoint}: ")));
}

#[tokio::test]
async fn endpoint_without_port_is_an_io_error() {
    let err = connect("127.0.0.1", Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(err, ConnectError::Io { .. }), "{err:?}");
}

/// A black hole on loopback: a listener with backlog 0 that never accepts. Once its
/// accept queue holds one connection, Linux drops further SYNs (the client would only
/// retransmit after 1s), so the handshake cannot finish within our budget. The loop
/// tolerates kernels that round the backlog up to a few slots.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn handshake_that_never_completes_times_out() {
    use socket2::{Domain, Socket, Type};

    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let loopback: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    listener.bind(&loopback.into()).unwrap();
    listener.listen(0).unwrap();
    let endpoint = listener.local_addr().unwrap().as_socket().unwrap().to_string();

    let budget = Duration::from_millis(200);
    let mut queued = Vec::new();
    for _ in 0..16 {
        match connect(&endpoint, budget).await {
            Ok(stream) => queued.push(stream),
            Err(err) => {
                assert!(matches!(err, ConnectError::Timeout(d) if d == budget), "{err:?}");
                assert_eq!(err.to_string(), "connect timed out after 200ms");
                return;
            }
        }
    }
    panic!("accept queue never filled after {} connections", queued.len());
}
