//! Zero-downtime restart through the binary: `run --upgrade` takes over the listening
//! sockets of the running gateway (`server.handover`), which then drains and exits, while a
//! client loop keeps connecting and sending; no request is lost.
#![allow(clippy::unwrap_used)]

// Not every helper of `support` is used here.
#[allow(unused_imports)]
mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::gateway::{GatewayProcess, TempFile};
use support::{Client, Origin};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_process_takes_over_the_sockets_while_the_old_one_drains() {
    let origin = Origin::echo().await;
    let socket = TempFile::new("handover.sock", "");
    let toml = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\nhandover = \"{}\"\n[upstreams.app]\nendpoints = [\"{}\"]\n\
         [[routes]]\nupstream = \"app\"\n",
        socket.display(),
        origin.addr
    );
    let mut old = GatewayProcess::start(&toml);
    let addr = old.addr;

    // A new connection per request: every connect must be accepted and every request
    // answered, across the handover.
    let (answered, stop) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
    let looping = tokio::spawn({
        let (answered, stop) = (answered.clone(), stop.clone());
        async move {
            while !stop.load(Ordering::SeqCst) {
                let mut client = Client::connect(addr).await;
                client.send(b"GET /loop HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").await;
                let response = client.try_response().await.expect("a request was lost");
                assert_eq!(response.status, 200);
                answered.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    // Bounded: a lost request ends the loop task, and the count stops.
    let at_least = |n: usize| {
        let answered = answered.clone();
        async move {
            for _ in 0..4000 {
                if answered.load(Ordering::SeqCst) >= n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            panic!("only {} of {n} requests answered", answered.load(Ordering::SeqCst));
        }
    };
    at_least(50).await;

    let new = tokio::task::spawn_blocking(move || GatewayProcess::start_upgrade(&toml)).await.unwrap();
    assert_eq!(new.addr, addr, "the new process serves the same socket");
    let status = tokio::task::block_in_place(|| old.exit_status(Duration::from_secs(20)));
    assert!(status.is_some_and(|s| s.success()), "the old process drained and exited: {status:?}");
    let handed_over = answered.load(Ordering::SeqCst);
    at_least(handed_over + 50).await;
    stop.store(true, Ordering::SeqCst);
    looping.await.unwrap();

    // The new process can hand over in turn.
    let toml_again = std::fs::read_to_string(new.config_path()).unwrap();
    let newer = tokio::task::spawn_blocking(move || GatewayProcess::start_upgrade(&toml_again)).await.unwrap();
    assert_eq!(newer.addr, addr);
    let mut new = new;
    let status = tokio::task::block_in_place(|| new.exit_status(Duration::from_secs(20)));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    let mut client = newer.client().await;
    client.send(b"GET /after HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert_eq!(client.response().await.status, 200);
}
