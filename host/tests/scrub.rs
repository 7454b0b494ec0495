//! Internal headers listed in `[scrub]` never reach the origin, whatever case or how many
//! times the client sends them; responses are scrubbed only where configured.
#![allow(clippy::unwrap_used)]

mod support;

use support::{Origin, TestGateway};

const SCRUB: &str = "[scrub]\nrequest_headers = [\"x-internal-*\", \"cf-worker\", \"X-Forwarded-Internal\"]\n";

#[tokio::test]
async fn internal_request_headers_never_reach_the_origin() {
    let origin = Origin::echo().await;
    let gw = TestGateway::in_front_of(origin.addr, SCRUB).await;
    let mut c = gw.client().await;
    c.send(
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Before: 1\r\nX-Internal-User: admin\r\nCF-Worker: spoofed\r\n\
          x-internal-: empty-suffix\r\nX-INTERNAL-TRACE: 1\r\nx-forwarded-internal: yes\r\ncf-worker: again\r\n\
          X-Internalx: kept\r\nCF-Workers: kept\r\nX-After: 2\r\n\r\n",
    )
    .await;
    let resp = c.response().await;
    assert_eq!(resp.status, 200);
    let names: Vec<String> =
        resp.echo()["headers"].as_array().unwrap().iter().map(|p| p[0].as_str().unwrap().to_owned()).collect();
    for name in &names {
        let lower = name.to_ascii_lowercase();
        assert!(
            !lower.starts_with("x-internal-") && lower != "cf-worker" && lower != "x-forwarded-internal",
            "{name} reached the origin: {names:?}"
        );
    }
    // Near misses and everything else pass untouched and in order.
    let kept: Vec<&str> =
        names.iter().map(String::as_str).filter(|n| n.starts_with("X-") || n.starts_with("CF")).collect();
    assert_eq!(kept, ["X-Before", "X-Internalx", "CF-Workers", "X-After", "X-Forwarded-For", "X-Forwarded-Proto"]);
}

#[tokio::test]
async fn scrubbing_happens_before_routing_sees_the_request() {
    // A client cannot reach an internal-only route by spoofing the header that would select it
    // later (plugins run after scrubbing); here: the header is gone before the origin.
    let origin = Origin::echo().await;
    let gw = TestGateway::in_front_of(origin.addr, SCRUB).await;
    let mut c = gw.client().await;
    c.send(b"POST /x HTTP/1.1\r\nHost: a\r\nX-Internal-Route: admin\r\nContent-Length: 2\r\n\r\nhi").await;
    let resp = c.response().await;
    assert!(resp.echoed_header("x-internal-route").is_empty());
    assert_eq!(resp.echo()["body_bytes"], 2);
}

#[tokio::test]
async fn responses_are_scrubbed_only_when_configured() {
    const REPLY: &[u8] =
        b"HTTP/1.1 200 OK\r\nX-Backend-Server: db-7.internal\r\nX-Debug-Sql: select 1\r\nX-Public: yes\r\nContent-Length: 2\r\n\r\nok";
    let origin = Origin::replying(REPLY).await;

    let gw = TestGateway::in_front_of(origin.addr, SCRUB).await;
    let resp = gw.get("/").await;
    assert_eq!(resp.header("x-backend-server"), Some("db-7.internal"), "request scrubbing must not touch responses");

    let config = "[scrub]\nresponse_headers = [\"x-backend-server\", \"X-Debug-*\"]\n";
    let gw = TestGateway::in_front_of(origin.addr, config).await;
    let resp = gw.get("/").await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("x-backend-server"), None);
    assert_eq!(resp.header("x-debug-sql"), None);
    assert_eq!(resp.header("x-public"), Some("yes"));
    assert_eq!(resp.text(), "ok");
}

#[tokio::test]
async fn interim_responses_are_scrubbed_too() {
    const REPLY: &[u8] =
        b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nX-Debug-Node: n1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    let origin = Origin::replying(REPLY).await;
    let gw = TestGateway::in_front_of(origin.addr, "[scrub]\nresponse_headers = [\"x-debug-*\"]\n").await;
    let mut c = gw.client().await;
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    let early = c.response().await;
    assert_eq!(early.status, 103);
    assert!(early.header("link").is_some());
    assert_eq!(early.header("x-debug-node"), None);
    assert_eq!(c.response().await.status, 200);
}

#[tokio::test]
async fn trailers_cannot_carry_internal_headers() {
    // The recording origin never answers and reports what it got once the gateway gives up.
    let mut origin = Origin::recording().await;
    let gw =
        TestGateway::in_front_of(origin.addr, &format!("{SCRUB}[timeouts]\nupstream_response = \"300ms\"\n")).await;
    let mut c = gw.client().await;
    c.send(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n0\r\nX-Internal-Auth: admin\r\nCF-Worker: 1\r\nX-Checksum: abc\r\n\r\n",
    )
    .await;
    assert_eq!(c.response().await.status, 504);
    let seen = tokio::time::timeout(support::client::IO_TIMEOUT, origin.heads.recv()).await.unwrap().unwrap();
    let lower = seen.to_ascii_lowercase();
    assert!(lower.contains("x-checksum: abc"), "the ordinary trailer is missing: {seen:?}");
    assert!(!lower.contains("x-internal-auth") && !lower.contains("cf-worker"), "internal trailer forwarded: {seen:?}");
}

#[tokio::test]
async fn response_trailers_are_scrubbed_like_response_headers() {
    const REPLY: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\
                           X-Debug-Sql: select 1\r\nGrpc-Status: 0\r\n\r\n";
    let origin = Origin::replying(REPLY).await;
    let gw = TestGateway::in_front_of(origin.addr, "[scrub]\nresponse_headers = [\"x-debug-*\"]\n").await;
    let resp = gw.get("/").await;
    assert_eq!(resp.text(), "ok");
    assert!(
        resp.trailers.iter().any(|(n, v)| n.eq_ignore_ascii_case("grpc-status") && v == "0"),
        "{:?}",
        resp.trailers
    );
    assert!(!resp.trailers.iter().any(|(n, _)| n.eq_ignore_ascii_case("x-debug-sql")), "{:?}", resp.trailers);
}
