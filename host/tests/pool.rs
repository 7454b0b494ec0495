//! Upstream connection reuse, counted where it happens: connections accepted at the origin
//! and the gateway's own pool counters.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use tokio::io::AsyncWriteExt;

use support::origin::read_head;
use support::{Client, Origin, TestGateway};

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: test\r\n\r\n";

async fn ok(c: &mut Client) {
    c.send(GET).await;
    let resp = c.response().await;
    assert_eq!(resp.status, 200, "{}", resp.text());
}

// === reuse ===

#[tokio::test]
async fn keep_alive_client_reuses_one_origin_connection() {
    let origin = Origin::echo().await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;
    let mut c = gw.client().await;
    for _ in 0..1000 {
        ok(&mut c).await;
    }
    assert!(origin.accepted() <= 2, "{} origin connections", origin.accepted());
    let stats = gw.gateway.pool_stats();
    assert!(stats.reused >= 998, "{stats:?}");
}

#[tokio::test]
async fn a_new_client_connection_per_request_still_reuses_origin_connections() {
    let origin = Origin::echo().await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;
    for _ in 0..1000 {
        let mut c = gw.client().await;
        // The client's `Connection: close` is hop-by-hop: it must not end the origin connection.
        c.send(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").await;
        let resp = c.response().await;
        assert_eq!(resp.status, 200);
    }
    // A new client's request can overtake the previous exchange's check-in, hence 2.
    assert!(origin.accepted() <= 2, "{} origin connections", origin.accepted());
    let stats = gw.gateway.pool_stats();
    assert!(stats.reused >= 998, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_clients_share_a_bounded_set_of_origin_connections() {
    const CLIENTS: usize = 8;
    const REQUESTS: usize = 50;
    let origin = Origin::echo().await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;
    let addr = gw.addr;
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            tokio::spawn(async move {
                let mut c = Client::connect(addr).await;
                for _ in 0..REQUESTS {
                    ok(&mut c).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    // Each client has at most one request in flight, so CLIENTS connections suffice.
    assert!(origin.accepted() <= CLIENTS + 2, "{} origin connections", origin.accepted());
    let stats = gw.gateway.pool_stats();
    assert_eq!(stats.new + stats.reused, (CLIENTS * REQUESTS) as u64, "{stats:?}");
}

// === stale connections ===

#[tokio::test]
async fn origin_closing_an_idle_connection_is_noticed_and_the_next_request_succeeds() {
    // Answers one request with keep-alive, closes a little later, then says so.
    let mut origin = Origin::scripted(|mut stream, heads| async move {
        if read_head(&mut stream).await.is_none() {
            return;
        }
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(stream);
        let _ = heads.send("closed".into());
    })
    .await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;
    let mut c = gw.client().await;
    ok(&mut c).await;
    origin.heads.recv().await.unwrap();
    // Lets the FIN arrive; either way (evicted at checkout or retried fresh) must succeed.
    tokio::time::sleep(Duration::from_millis(100)).await;
    ok(&mut c).await;

    assert_eq!(origin.accepted(), 2);
    let stats = gw.gateway.pool_stats();
    assert_eq!(stats.new, 2, "{stats:?}");
    // Found dead at checkout (evicted_stale), or handed out and retried on a fresh one (reused).
    assert_eq!(stats.evicted_stale + stats.reused, 1, "{stats:?}");
}

#[tokio::test]
async fn origin_closing_as_the_next_request_arrives_is_retried_on_a_fresh_connection() {
    // Answers the first request on each connection and hangs up on the second, the
    // keep-alive race no liveness check can see coming.
    let origin = Origin::scripted(|mut stream, _| async move {
        if read_head(&mut stream).await.is_none() {
            return;
        }
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
        let _ = read_head(&mut stream).await;
    })
    .await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;
    let mut c = gw.client().await;
    ok(&mut c).await;
    ok(&mut c).await;

    assert_eq!(origin.accepted(), 2);
    let stats = gw.gateway.pool_stats();
    assert_eq!((stats.new, stats.reused, stats.evicted_stale), (2, 1, 0), "{stats:?}");
}

// === when not to reuse ===

#[tokio::test]
async fn max_idle_per_key_zero_opens_a_connection_per_request() {
    let origin = Origin::echo().await;
    let gw = TestGateway::in_front_of(origin.addr, "[pool]\nmax_idle_per_key = 0").await;
    let mut c = gw.client().await;
    for _ in 0..10 {
        ok(&mut c).await;
    }
    assert_eq!(origin.accepted(), 10);
    let stats = gw.gateway.pool_stats();
    assert_eq!((stats.new, stats.reused, stats.idle), (10, 0, 0), "{stats:?}");
}

#[tokio::test]
async fn origin_connection_close_is_not_reused() {
    // `Connection: close` (or an HTTP/1.0 reply without keep-alive), yet the origin keeps
    // the socket open: only the gateway's own decision stands between it and reuse.
    let closing =
        Origin::answering(|_| b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok".to_vec()).await;
    let http10 = Origin::answering(|_| b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec()).await;
    for origin in [&closing, &http10] {
        let gw = TestGateway::in_front_of(origin.addr, "").await;
        let mut c = gw.client().await;
        for _ in 0..3 {
            ok(&mut c).await;
        }
        assert_eq!(origin.accepted(), 3);
        let stats = gw.gateway.pool_stats();
        assert_eq!((stats.new, stats.reused), (3, 0), "{stats:?}");
    }
}

#[tokio::test]
async fn close_delimited_response_is_not_reused() {
    let origin = Origin::replying(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close").await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;
    let mut c = gw.client().await;
    for _ in 0..2 {
        c.send(GET).await;
        let resp = c.response().await;
        assert_eq!((resp.status, resp.text().as_str()), (200, "until close"));
    }
    assert_eq!(origin.accepted(), 2);
    let stats = gw.gateway.pool_stats();
    // Had it been pooled, the checkout would have found it closed (evicted_stale).
    assert_eq!((stats.new, stats.reused, stats.evicted_stale), (2, 0, 0), "{stats:?}");
}

#[tokio::test]
async fn idle_timeout_expires_pooled_connections() {
    let origin = Origin::echo().await;
    let gw = TestGateway::in_front_of(origin.addr, "[pool]\nidle_timeout = \"200ms\"").await;
    let mut c = gw.client().await;
    ok(&mut c).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    ok(&mut c).await;

    assert_eq!(origin.accepted(), 2);
    let stats = gw.gateway.pool_stats();
    assert_eq!((stats.new, stats.reused), (2, 0), "{stats:?}");
}
