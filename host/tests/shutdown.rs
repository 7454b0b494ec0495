//! Graceful shutdown of the real binary on SIGTERM: it stops accepting, closes idle
//! keep-alive connections, finishes the requests in flight (telling their clients it
//! closes), and exits 0, losing no request it accepted.
#![allow(clippy::unwrap_used)]

// Not every helper of `support` is used here.
#[allow(unused_imports)]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::gateway::GatewayProcess;
use support::origin::read_head;
use support::{Client, Origin};
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

const IN_FLIGHT: usize = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_requests_in_flight_and_exits_cleanly() {
    // `/held` requests reach an origin that answers only when the test says so.
    let (release, released) = watch::channel(false);
    let mut held = Origin::scripted(move |mut stream, heads| {
        let mut released = released.clone();
        async move {
            while let Some(head) = read_head(&mut stream).await {
                let _ = heads.send(head);
                let _ = released.wait_for(|go| *go).await;
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nheld").await;
            }
        }
    })
    .await;
    let echo = Origin::echo().await;
    let mut gw = GatewayProcess::start(&format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[timeouts]\ndrain = \"20s\"\n\
         [upstreams.held]\nendpoints = [\"{}\"]\n[upstreams.echo]\nendpoints = [\"{}\"]\n\
         [[routes]]\nmatch = {{ path_prefix = \"/held\" }}\nupstream = \"held\"\n\
         [[routes]]\nupstream = \"echo\"\n",
        held.addr, echo.addr
    ));
    let addr = gw.addr;

    // An idle keep-alive connection, and requests the origin is sitting on.
    let mut idle = Client::connect(addr).await;
    idle.send(b"GET /idle HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert_eq!(idle.response().await.status, 200);
    let mut in_flight = Vec::new();
    for i in 0..IN_FLIGHT {
        in_flight.push(tokio::spawn(async move {
            let mut client = Client::connect(addr).await;
            client.send(format!("GET /held/{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes()).await;
            client.response().await
        }));
    }
    for _ in 0..IN_FLIGHT {
        held.heads.recv().await.unwrap();
    }

    // A client loop on keep-alive connections, running through the shutdown: every request
    // gets a whole response, or its connection closes before any byte of one (a request a
    // client may resend), until connecting is refused.
    let answered = Arc::new(AtomicUsize::new(0));
    let looping = tokio::spawn({
        let answered = answered.clone();
        async move {
            'connect: for _ in 0..100_000 {
                let Ok(stream) = tokio::net::TcpStream::connect(addr).await else { return };
                let mut client = Client::from_stream(stream);
                loop {
                    if client.try_send(b"GET /loop HTTP/1.1\r\nHost: t\r\n\r\n").await.is_err() {
                        continue 'connect;
                    }
                    let Some(response) = client.try_response().await else { continue 'connect };
                    assert_eq!(response.status, 200, "a request in the loop failed");
                    answered.fetch_add(1, Ordering::SeqCst);
                    if response.header("connection") == Some("close") {
                        continue 'connect;
                    }
                }
            }
        }
    });
    while answered.load(Ordering::SeqCst) < 20 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    gw.signal("TERM");
    // Draining has begun once new connections are refused.
    let mut refused = false;
    for _ in 0..1000 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused, "the gateway kept accepting after SIGTERM");
    assert!(idle.closed().await, "an idle keep-alive connection is closed at once");
    tokio::time::timeout(Duration::from_secs(20), looping).await.unwrap().unwrap();
    assert!(answered.load(Ordering::SeqCst) >= 20);

    // The held requests are still answered, each telling its client the connection closes.
    release.send_replace(true);
    for request in in_flight {
        let response = request.await.unwrap();
        assert_eq!((response.status, response.text().as_str()), (200, "held"));
        assert_eq!(response.header("connection"), Some("close"));
    }
    let status = tokio::task::block_in_place(|| gw.exit_status(Duration::from_secs(20)));
    assert!(status.is_some_and(|s| s.success()), "exit status {status:?}");
}

#[tokio::test]
async fn signals_sent_as_soon_as_it_says_listening_are_handled() {
    // Scripts act on the "listening" line at once; a signal that beat its handler would take
    // the default action (SIGHUP and SIGTERM: die on the spot). Several rounds, as the window
    // was a matter of scheduling.
    let origin = Origin::echo().await;
    let toml = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[upstreams.app]\nendpoints = [\"{}\"]\n[[routes]]\nupstream = \"app\"\n",
        origin.addr
    );
    for _ in 0..5 {
        let gw = GatewayProcess::start(&toml);
        gw.signal("HUP");
        let mut client = gw.client().await;
        client.send(b"GET /after-hup HTTP/1.1\r\nHost: t\r\n\r\n").await;
        let response = client.response().await;
        assert_eq!(response.status, 200, "a SIGHUP reloads; it does not stop the gateway");
        let mut gw = GatewayProcess::start(&toml);
        gw.signal("TERM");
        let status = gw.exit_status(Duration::from_secs(20)).expect("the gateway exits after SIGTERM");
        assert!(status.success(), "a SIGTERM drains and exits 0, not {status}");
    }
}
