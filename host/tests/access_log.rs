//! The access log and the request id, through the binary: one JSON line per request with
//! route, upstream, status, bytes and where the time went; `x-request-id` kept from the
//! client when sane, generated otherwise, sent to the origin and back to the client, and on
//! the request's error line.
#![allow(clippy::unwrap_used)]

// Not every helper of `support` is used here.
#[allow(unused_imports)]
mod support;

use support::gateway::GatewayProcess;
use support::origin::closed_port;
use support::{Origin, PluginDir, Response};

async fn send(gw: &GatewayProcess, request: &str) -> Response {
    let mut client = gw.client().await;
    client.send(request.as_bytes()).await;
    client.response().await
}

/// The next access line (JSON) whose path is `path`.
fn access_line(gw: &GatewayProcess, path: &str) -> serde_json::Value {
    let line = gw.log_line(&format!("\"path\":\"{path}\""));
    let start = line.find('{').expect("a JSON log line");
    serde_json::from_str(&line[start..]).unwrap_or_else(|e| panic!("{e}: {line}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_gets_an_access_line_and_a_request_id() {
    let origin = Origin::echo().await;
    let dir = PluginDir::with(&["probe"]);
    let gw = GatewayProcess::start_with_log(&format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n{}[log]\nformat = \"json\"\n\
         [upstreams.app]\nendpoints = [\"{}\"]\n[upstreams.down]\nendpoints = [\"{}\"]\n\
         [[routes]]\nname = \"broken\"\nmatch = {{ path_prefix = \"/down\" }}\nupstream = \"down\"\n\
         [[routes]]\nname = \"api\"\nupstream = \"app\"\nplugins = [{{ name = \"probe\", config = {{ tag = \"a\" }} }}]\n",
        dir.server_keys(),
        origin.addr,
        closed_port().await
    ));

    // No id from the client: one is made, sent to the origin and back, and logged.
    let response = send(&gw, "GET /a?x=1 HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert_eq!(response.status, 200);
    let id = response.header("x-request-id").unwrap().to_owned();
    assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    assert_eq!(response.echoed_header("x-request-id"), std::slice::from_ref(&id));
    let line = access_line(&gw, "/a?x=1");
    assert_eq!(line["target"], "portcullis::access");
    assert_eq!(line["request_id"], id.as_str());
    assert_eq!(line["method"], "GET");
    assert_eq!(line["route"], "api");
    assert_eq!(line["upstream"], "app");
    assert_eq!(line["status"], 200);
    assert_eq!(line["client"], "127.0.0.1");
    assert_eq!(line["bytes"], response.body.len() as u64);
    let us = |key: &str| line[key].as_u64().unwrap_or_else(|| panic!("{key} in {line}"));
    assert!(us("plugin_us") > 0, "the probe ran in five phases");
    assert!(us("duration_us") >= us("plugin_us") + us("connect_us") + us("upstream_us"), "{line}");

    // A sane id from the client is kept; a bad one is replaced; ids differ per request.
    let response = send(&gw, "GET /b HTTP/1.1\r\nHost: t\r\nX-Request-Id: edge-7f3a\r\n\r\n").await;
    assert_eq!(response.header("x-request-id"), Some("edge-7f3a"));
    assert_eq!(response.echoed_header("x-request-id"), ["edge-7f3a"]);
    assert_eq!(access_line(&gw, "/b")["request_id"], "edge-7f3a");
    let long = "x".repeat(200);
    let response = send(&gw, &format!("GET /c HTTP/1.1\r\nHost: t\r\nX-Request-Id: {long}\r\n\r\n")).await;
    let replaced = response.header("x-request-id").unwrap();
    assert!(replaced.len() == 32 && replaced != id, "{replaced}");

    // A gateway-made error: logged with its status, and the error line has the same id.
    let response = send(&gw, "GET /down HTTP/1.1\r\nHost: t\r\nX-Request-Id: err-1\r\n\r\n").await;
    assert_eq!(response.status, 502);
    let connect = gw.log_line("connect failed");
    assert!(connect.contains(r#""request_id":"err-1""#), "a line logged inside the request: {connect}");
    let error = gw.log_line("request failed");
    assert!(error.contains("err-1"), "{error}");
    let line = access_line(&gw, "/down");
    assert_eq!((line["status"].as_u64(), line["route"].as_str()), (Some(502), Some("broken")));
    assert_eq!((line["upstream"].as_str(), line["request_id"].as_str()), (Some("down"), Some("err-1")));

    // A head refused before routing still gets its line.
    let mut client = gw.client().await;
    client.send(b"GET /bad HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").await;
    assert_eq!(client.response().await.status, 400);
    let line = gw.log_line("\"status\":400");
    assert!(line.contains("\"route\":\"-\""), "{line}");
}

#[tokio::test]
async fn the_access_log_can_be_turned_off() {
    let origin = Origin::echo().await;
    let gw = GatewayProcess::start_with_log(&format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[log]\naccess = false\n\
         [upstreams.app]\nendpoints = [\"{}\"]\n[upstreams.down]\nendpoints = [\"{}\"]\n\
         [[routes]]\nmatch = {{ path_prefix = \"/down\" }}\nupstream = \"down\"\n[[routes]]\nupstream = \"app\"\n",
        origin.addr,
        closed_port().await
    ));
    assert_eq!(send(&gw, "GET /quiet HTTP/1.1\r\nHost: t\r\n\r\n").await.status, 200);
    // The next line the gateway logs is this failure's warning: had `/quiet` had an access
    // line, it would have come first.
    assert_eq!(send(&gw, "GET /down HTTP/1.1\r\nHost: t\r\n\r\n").await.status, 502);
    let (first, line) = gw.first_log_line(&["portcullis::access", "connect failed"]);
    assert_eq!(first, 1, "no access line expected: {line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_streams_get_access_lines_with_their_protocol() {
    let origin = Origin::echo().await;
    let gw = GatewayProcess::start_with_log(&format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\nh2c = true\n[log]\nformat = \"json\"\n\
         [upstreams.app]\nendpoints = [\"{}\"]\n[[routes]]\nupstream = \"app\"\n",
        origin.addr
    ));
    let mut client = support::h2::client(support::h2::raw(gw.addr).await).await;
    let answer = support::h2::exchange(&mut client, support::h2::get("http://t/over-h2"), b"", None).await.unwrap();
    assert_eq!(answer.status, 200);
    let line = access_line(&gw, "/over-h2");
    assert_eq!((line["protocol"].as_str(), line["status"].as_u64()), (Some("HTTP/2"), Some(200)));
    assert_eq!(line["request_id"].as_str(), answer.header("x-request-id"));
    send(&gw, "GET /over-h1 HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert_eq!(access_line(&gw, "/over-h1")["protocol"], "HTTP/1.1");
}
