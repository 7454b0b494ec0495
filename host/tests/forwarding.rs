//! What the gateway forwards and how: heads, hop-by-hop removal, X-Forwarded-*, Via,
//! keep-alive, pipelining, interim and bodiless responses, non-standard statuses.
#![allow(clippy::unwrap_used)]

mod support;

use support::{Origin, TestGateway};

#[tokio::test]
async fn forwards_a_request_and_echoes_what_the_origin_saw() {
    let origin = Origin::echo().await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;
    let mut c = gw.client().await;
    c.send(b"GET /hello?x=1 HTTP/1.1\r\nHost: example.com\r\nX-Custom: yes\r\nConnection: X-Secret\r\nX-Secret: 1\r\nKeep-Alive: 5\r\n\r\n").await;
    let resp = c.response().await;
    assert_eq!(resp.status, 200);
    let echo = resp.echo();
    assert_eq!(echo["method"], "GET");
    assert_eq!(echo["target"], "/hello?x=1");
    assert_eq!(resp.echoed_header("x-custom"), ["yes"]);
    assert_eq!(resp.echoed_header("host"), ["example.com"]);
    assert!(resp.echoed_header("x-secret").is_empty(), "field named in Connection was forwarded");
    assert!(resp.echoed_header("keep-alive").is_empty());
    assert!(resp.echoed_header("connection").is_empty());
    assert_eq!(resp.echoed_header("x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(resp.echoed_header("x-forwarded-proto"), ["http"]);
    assert_eq!(resp.echoed_header("via"), ["1.1 portcullis"]);
    assert_eq!(resp.header("via"), Some("1.1 portcullis"));
}
