#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{Pool, PoolKey};
use crate::config::PoolConfig;

const LONG: Duration = Duration::from_secs(60);

fn pool(idle_timeout: Duration, max_idle_per_key: usize) -> Pool {
    Pool::new(&PoolConfig { idle_timeout, max_idle_per_key })
}

fn key() -> PoolKey {
    PoolKey::plain("127.0.0.1:9")
}

/// A connected (proxy side, origin side) socket pair on loopback.
async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    (client.unwrap(), accepted.unwrap().0)
}

/// Waits for the origin side to see the pool close the proxy side: EOF, or a reset when
/// the pool closed a socket with unread bytes (that is how Linux reports it).
async fn assert_closed_by_pool(origin: &mut TcpStream) {
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(5), origin.read(&mut buf)).await;
    match read.expect("pool never closed the socket") {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("expected EOF or reset, got {other:?}"),
    }
}

/// Sum of list lengths, to check the `idle` gauge against the truth.
fn counted_idle(pool: &Pool) -> usize {
    pool.idle.iter().map(|entry| entry.len()).sum()
}

#[tokio::test]
async fn reuses_checked_in_connection() {
    let pool = pool(LONG, 8);
    let (conn, _origin) = pair().await;
    let local = conn.local_addr().unwrap();
    pool.record_new();
    pool.checkin(&key(), conn);
    assert_eq!(pool.stats().idle, 1);

    let reused = pool.checkout(&key()).expect("pooled connection");
    assert_eq!(reused.tcp().local_addr().unwrap(), local);
    let stats = pool.stats();
    assert_eq!((stats.new, stats.reused, stats.idle, stats.evicted_stale), (1, 1, 0, 0));
    assert!(pool.checkout(&key()).is_none());
}

#[tokio::test]
async fn reuse_is_lifo() {
    let pool = pool(LONG, 8);
    let (older, _o1) = pair().await;
    let (newer, _o2) = pair().await;
    let (older_addr, newer_addr) = (older.local_addr().unwrap(), newer.local_addr().unwrap());
    pool.checkin(&key(), older);
    pool.checkin(&key(), newer);
    assert_eq!(pool.checkout(&key()).unwrap().tcp().local_addr().unwrap(), newer_addr);
    assert_eq!(pool.checkout(&key()).unwrap().tcp().local_addr().unwrap(), older_addr);
}

/// The origin's FIN must be seen even though the reactor has not turned since it
/// arrived: `std::thread::sleep` keeps this single-threaded runtime from polling I/O.
#[tokio::test]
async fn peer_closed_is_discarded_on_checkout() {
    let pool = pool(LONG, 8);
    let (conn, origin) = pair().await;
    pool.checkin(&key(), conn);
    drop(origin);
    std::thread::sleep(Duration::from_millis(20));

    assert!(pool.checkout(&key()).is_none());
    let stats = pool.stats();
    assert_eq!((stats.reused, stats.idle, stats.evicted_stale), (0, 0, 1));
}

#[tokio::test]
async fn dead_newest_falls_back_to_older_live_one() {
    let pool = pool(LONG, 8);
    let (live, _live_origin) = pair().await;
    let (dead, dead_origin) = pair().await;
    let live_addr = live.local_addr().unwrap();
    pool.checkin(&key(), live);
    pool.checkin(&key(), dead);
    drop(dead_origin);
    std::thread::sleep(Duration::from_millis(20));

    assert_eq!(pool.checkout(&key()).unwrap().tcp().local_addr().unwrap(), live_addr);
    let stats = pool.stats();
    assert_eq!((stats.reused, stats.idle, stats.evicted_stale), (1, 0, 1));
}

#[tokio::test]
async fn unsolicited_bytes_are_discarded() {
    let pool = pool(LONG, 8);
    let (conn, mut origin) = pair().await;
    pool.checkin(&key(), conn);
    origin.write_all(b"HTTP/1.1 408 Request Timeout\r\n\r\n").await.unwrap();
    std::thread::sleep(Duration::from_millis(20));

    assert!(pool.checkout(&key()).is_none());
    assert_eq!(pool.stats().evicted_stale, 1);
    assert_closed_by_pool(&mut origin).await;
}

#[tokio::test]
async fn idle_timeout_expires_connections() {
    let pool = pool(Duration::from_millis(50), 8);
    let (conn, mut origin) = pair().await;
    pool.checkin(&key(), conn);
    tokio::time::sleep(Duration::from_millis(120)).await;

    assert!(pool.checkout(&key()).is_none());
    let stats = pool.stats();
    assert_eq!((stats.idle, stats.evicted_stale), (0, 0));
    assert_eq!(pool.expired_total(), 1);
    assert_closed_by_pool(&mut origin).await;
}

#[tokio::test]
async fn per_key_cap_drops_the_extra_connection() {
    let pool = pool(LONG, 2);
    let (a, _oa) = pair().await;
    let (b, _ob) = pair().await;
    let (c, mut oc) = pair().await;
    pool.checkin(&key(), a);
    pool.checkin(&key(), b);
    pool.checkin(&key(), c);

    assert_eq!(pool.stats().idle, 2);
    assert_closed_by_pool(&mut oc).await;
    // The cap is per key: another key still has room.
    let (d, _od) = pair().await;
    pool.checkin(&PoolKey::plain("127.0.0.1:10"), d);
    assert_eq!(pool.stats().idle, 3);
}

#[tokio::test]
async fn keys_differing_in_tls_sni_or_alpn_are_not_interchangeable() {
    let pool = pool(LONG, 8);
    let (conn, _origin) = pair().await;
    pool.checkin(&key(), conn);

    let tls = PoolKey { tls: true, ..key() };
    let sni = PoolKey { sni: Some("example.com".into()), ..key() };
    let alpn = PoolKey { alpn: Some("http/1.1".into()), ..key() };
    let other_addr = PoolKey::plain("127.0.0.1:10");
    for other in [&tls, &sni, &alpn, &other_addr] {
        assert!(pool.checkout(other).is_none(), "{other:?} matched");
    }
    assert!(pool.checkout(&key()).is_some());
}

#[tokio::test]
async fn zero_cap_disables_pooling() {
    let pool = pool(LONG, 0);
    let (conn, mut origin) = pair().await;
    pool.checkin(&key(), conn);

    assert_eq!(pool.stats().idle, 0);
    assert_eq!(pool.key_count(), 0);
    assert!(pool.checkout(&key()).is_none());
    assert_closed_by_pool(&mut origin).await;
}

#[tokio::test]
async fn reaper_closes_expired_connections_and_removes_keys() {
    let pool = Arc::new(pool(Duration::from_millis(50), 8));
    pool.spawn_reaper();
    let (conn, mut origin) = pair().await;
    pool.checkin(&key(), conn);

    assert_closed_by_pool(&mut origin).await;
    assert_eq!(pool.stats().idle, 0);
    assert_eq!(pool.key_count(), 0);
}

#[tokio::test]
async fn reaper_does_not_keep_the_pool_alive_and_then_exits() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let before = metrics.num_alive_tasks();
    let pool = Arc::new(pool(Duration::from_millis(50), 8));
    pool.spawn_reaper();
    assert_eq!(metrics.num_alive_tasks(), before + 1);

    let weak = Arc::downgrade(&pool);
    drop(pool);
    assert!(weak.upgrade().is_none());
    // The reaper's period is 100ms here; give it a few ticks to notice.
    for _ in 0..50 {
        if metrics.num_alive_tasks() == before {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("reaper task still running after its pool was dropped");
}

#[tokio::test]
async fn sweep_removes_emptied_keys() {
    let pool = pool(LONG, 8);
    let (conn, _origin) = pair().await;
    pool.checkin(&key(), conn);
    let _conn = pool.checkout(&key()).unwrap();
    assert_eq!(pool.key_count(), 1);
    pool.sweep();
    assert_eq!(pool.key_count(), 0);
}

/// Many workers checking in and out concurrently: the gauge must match the lists.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_gauge_stays_exact_under_concurrency() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Keep accepted sockets open so pooled connections stay alive.
    let origin = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let pool = Arc::new(pool(LONG, 4));
    let keys: Vec<PoolKey> = (0..3).map(|i| PoolKey::plain(format!("k{i}"))).collect();
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let (pool, keys) = (pool.clone(), keys.clone());
            tokio::spawn(async move {
                for i in 0..40 {
                    let key = &keys[(t + i) % keys.len()];
                    let conn = match pool.checkout(key) {
                        Some(conn) => conn,
                        None => {
                            pool.record_new();
                            TcpStream::connect(addr).await.unwrap().into()
                        }
                    };
                    tokio::task::yield_now().await;
                    pool.checkin(key, conn);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let stats = pool.stats();
    assert_eq!(stats.idle, counted_idle(&pool));
    assert!(stats.idle <= 3 * 4);
    assert_eq!(stats.new + stats.reused, 8 * 40);
    assert!(stats.reused > 0);
    origin.abort();
}
