//! Listeners: several per gateway, and SO_REUSEPORT so a second process (a new binary during
//! a restart) can bind the same address while the first still serves.
#![allow(clippy::unwrap_used)]

mod support;

use support::{Origin, TestGateway};

fn config(listen: &str, origin: std::net::SocketAddr, reuse_port: bool) -> String {
    format!(
        "[server]\nlisten = [{listen}]\nreuse_port = {reuse_port}\n[upstreams.app]\nendpoints = [\"{origin}\"]\n[[routes]]\nmatch = {{ path_prefix = \"/\" }}\nupstream = \"app\"\n"
    )
}

#[tokio::test]
async fn every_configured_listener_serves() {
    let origin = Origin::echo().await;
    let gw = TestGateway::start(&config("\"127.0.0.1:0\", \"127.0.0.1:0\"", origin.addr, true)).await;
    let addrs = gw.gateway.local_addrs().to_vec();
    assert_eq!(addrs.len(), 2);
    assert_ne!(addrs[0], addrs[1]);
    for addr in addrs {
        let mut c = support::Client::connect(addr).await;
        c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
        assert_eq!(c.response().await.status, 200);
    }
}

#[tokio::test]
async fn reuse_port_lets_a_second_gateway_bind_the_same_address() {
    let origin = Origin::echo().await;
    let first = TestGateway::start(&config("\"127.0.0.1:0\"", origin.addr, true)).await;
    let shared = format!("\"{}\"", first.addr);
    let second = TestGateway::start(&config(&shared, origin.addr, true)).await;
    assert_eq!(first.addr, second.addr);
    // With the first one stopped, the second keeps serving the address alone.
    first.gateway.close_listeners().await;
    let resp = second.get("/after-handover").await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.echo()["target"], "/after-handover");
}

#[tokio::test]
async fn without_reuse_port_a_taken_address_is_an_error_naming_it() {
    let origin = Origin::echo().await;
    let first = TestGateway::start(&config("\"127.0.0.1:0\"", origin.addr, false)).await;
    let src = config(&format!("\"{}\"", first.addr), origin.addr, false);
    let cfg = portcullis::Config::from_toml_str(&src, "t.toml").unwrap();
    let err = portcullis::Gateway::start(cfg).await.err().expect("second bind must fail");
    assert!(format!("{err:#}").contains(&first.addr.to_string()), "{err:#}");
}
