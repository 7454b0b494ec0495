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

/// Two echo origins behind distinct upstreams, so a response tells which route matched.
async fn routed_gateway(routes: &str) -> (TestGateway, Origin, Origin) {
    let a = Origin::echo().await;
    let b = Origin::echo().await;
    let gw = TestGateway::start(&format!(
        "[upstreams.a]\nendpoints = [\"{}\"]\n[upstreams.b]\nendpoints = [\"{}\"]\n{routes}",
        a.addr, b.addr
    ))
    .await;
    (gw, a, b)
}

async fn served_by(gw: &TestGateway, method: &str, host: &str, path: &str) -> Option<String> {
    let mut c = gw.client().await;
    c.send(format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n\r\n").as_bytes()).await;
    let resp = c.response().await;
    assert_eq!(resp.status, 200, "{method} {host}{path}: {}", resp.text());
    Some(resp.echo()["served_by"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn routes_by_host_longest_prefix_and_method() {
    let (gw, a, b) = routed_gateway(
        r#"
[[routes]]
match = { path_prefix = "/" }
upstream = "a"
[[routes]]
match = { path_prefix = "/api/" }
upstream = "b"
[[routes]]
match = { host = "admin.example.com", path_prefix = "/" }
upstream = "b"
[[routes]]
match = { host = "*.example.com", path_prefix = "/api/", methods = ["POST"] }
upstream = "a"
"#,
    )
    .await;
    // The echo names its inner demo listener, so routes are told apart by distinctness.
    let _origins = (a, b);
    let root = served_by(&gw, "GET", "www.other.org", "/x").await.unwrap();
    let api = served_by(&gw, "GET", "www.other.org", "/api/items").await.unwrap();
    assert_ne!(root, api, "longest prefix should pick upstream b");
    assert_eq!(
        served_by(&gw, "GET", "ADMIN.example.com:8080", "/x").await.unwrap(),
        api,
        "exact host, case-insensitive, port ignored"
    );
    assert_eq!(served_by(&gw, "POST", "shop.example.com", "/api/x").await.unwrap(), root, "wildcard host with method");
    assert_eq!(served_by(&gw, "GET", "shop.example.com", "/api/x").await.unwrap(), api, "method mismatch falls back");
    assert_eq!(served_by(&gw, "POST", "example.com", "/api/x").await.unwrap(), api, "wildcard does not match the apex");
}

#[tokio::test]
async fn unmatched_request_gets_404_without_contacting_an_origin() {
    let (gw, a, b) = routed_gateway(
        r#"
[[routes]]
match = { host = "only.example.com", path_prefix = "/" }
upstream = "a"
"#,
    )
    .await;
    let resp = gw.get("/anything").await;
    assert_eq!(resp.status, 404);
    assert_eq!(resp.header("content-type"), Some("text/plain; charset=utf-8"));
    assert!(resp.text().starts_with("404 Not Found"), "{}", resp.text());
    assert_eq!(a.accepted() + b.accepted(), 0);
}

#[tokio::test]
async fn x_forwarded_for_appends_replaces_or_stays_off() {
    let origin = Origin::echo().await;
    let request =
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\nVia: 1.1 edge\r\n\r\n";

    let gw = TestGateway::in_front_of(origin.addr, "").await;
    let mut c = gw.client().await;
    c.send(request).await;
    let resp = c.response().await;
    assert_eq!(resp.echoed_header("x-forwarded-for"), ["10.0.0.1, 10.0.0.2, 127.0.0.1"]);
    assert_eq!(resp.echoed_header("via"), ["1.1 edge, 1.1 portcullis"]);

    let gw = TestGateway::in_front_of(
        origin.addr,
        "[forwarding]\nx_forwarded_for = \"replace\"\nx_forwarded_proto = false\nvia = \"\"\n",
    )
    .await;
    let mut c = gw.client().await;
    c.send(request).await;
    let resp = c.response().await;
    assert_eq!(resp.echoed_header("x-forwarded-for"), ["127.0.0.1"]);
    assert!(resp.echoed_header("x-forwarded-proto").is_empty());
    assert_eq!(resp.echoed_header("via"), ["1.1 edge"]);
    assert!(resp.header("via").is_none());

    let gw = TestGateway::in_front_of(origin.addr, "[forwarding]\nx_forwarded_for = \"off\"\n").await;
    let mut c = gw.client().await;
    c.send(request).await;
    assert_eq!(c.response().await.echoed_header("x-forwarded-for"), ["10.0.0.1", "10.0.0.2"]);
}

#[tokio::test]
async fn absolute_form_target_is_forwarded_in_origin_form_with_its_host() {
    let origin = Origin::echo().await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;
    let mut c = gw.client().await;
    c.send(b"GET http://Example.org:8080/p?q=1 HTTP/1.1\r\nHost: ignored\r\n\r\n").await;
    let resp = c.response().await;
    assert_eq!(resp.echo()["target"], "/p?q=1");
    assert_eq!(resp.echoed_header("host"), ["Example.org:8080"]);
}

#[tokio::test]
async fn http10_client_keep_alive_only_when_asked() {
    let origin = Origin::echo().await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;

    let mut c = gw.client().await;
    c.send(b"GET /one HTTP/1.0\r\n\r\n").await;
    let resp = c.response().await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.echoed_header("via"), ["1.0 portcullis"]);
    assert!(c.closed().await, "HTTP/1.0 without keep-alive must close");

    let mut c = gw.client().await;
    c.send(b"GET /one HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").await;
    let resp = c.response().await;
    assert_eq!(resp.header("connection"), Some("keep-alive"));
    c.send(b"GET /two HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").await;
    assert_eq!(c.response().await.echo()["target"], "/two");
}

#[tokio::test]
async fn client_connection_close_is_honoured() {
    let origin = Origin::echo().await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;
    let mut c = gw.client().await;
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").await;
    let resp = c.response().await;
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(c.closed().await);
}

#[tokio::test]
async fn connection_cannot_remove_host_after_routing_used_it() {
    let origin = Origin::echo().await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;
    let mut c = gw.client().await;
    c.send(b"GET / HTTP/1.1\r\nHost: tenant-a.example\r\nConnection: Host, X-Gone\r\nX-Gone: 1\r\n\r\n").await;
    let resp = c.response().await;
    assert_eq!(resp.echoed_header("host"), ["tenant-a.example"]);
    assert!(resp.echoed_header("x-gone").is_empty());
}
