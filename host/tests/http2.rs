//! HTTP/2 on both sides (the `h2` crate), through the same phase chart as HTTP/1.1: an h2
//! client (over TLS with ALPN, or cleartext by prior knowledge) in front of HTTP/1.1
//! origins, HTTP/1.1 and h2 clients in front of h2 origins (multiplexed on one pooled
//! connection), gRPC-style trailers end to end, and plugins that cannot tell the difference.

#![allow(clippy::unwrap_used)]

#[allow(unused_imports)]
mod support;

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, Request};
use support::client::echoed_header;
use support::h2::{self as h2s, exchange, get, H2Origin};
use support::tls::{plain_view, TestCa};
use support::{Client, Origin, PluginDir, TestGateway};

const H2: &[u8] = b"h2";

/// A gateway with a cleartext listener (`h2c = true`) and a TLS listener for `site.test`,
/// with `upstreams` (TOML for `[upstreams.…]` and `[[routes]]`) and `extra`.
struct H2Gateway {
    gateway: TestGateway,
    plain: SocketAddr,
    tls: SocketAddr,
    ca: TestCa,
    _leaf: support::tls::Leaf,
}

impl H2Gateway {
    async fn start(upstreams: &str, extra: &str) -> H2Gateway {
        let ca = TestCa::new();
        let leaf = ca.leaf(&["site.test"]);
        let toml = format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\nlisten_tls = [\"127.0.0.1:0\"]\nh2c = true\n{extra}\n\
             [[tls.certificates]]\ncert = \"{}\"\nkey = \"{}\"\nnames = [\"site.test\"]\n{upstreams}",
            leaf.cert.display(),
            leaf.key.display()
        );
        let gateway = TestGateway::start(&toml).await;
        let addrs = gateway.gateway.local_addrs().to_vec();
        H2Gateway { gateway, plain: addrs[0], tls: addrs[1], ca, _leaf: leaf }
    }

    async fn in_front_of(origin: SocketAddr, upstream_keys: &str) -> H2Gateway {
        let upstreams =
            format!("[upstreams.app]\nendpoints = [\"{origin}\"]\n{upstream_keys}\n[[routes]]\nupstream = \"app\"\n");
        H2Gateway::start(&upstreams, "").await
    }

    /// An h2 client over TLS (ALPN h2).
    async fn h2_tls(&self) -> h2::client::SendRequest<Bytes> {
        let tls = self.ca.connect(self.tls, "site.test", &[H2]).await.unwrap();
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(H2), "ALPN picks h2");
        h2s::client(tls).await
    }

    /// An h2 client over cleartext by prior knowledge.
    async fn h2c(&self) -> h2::client::SendRequest<Bytes> {
        h2s::client(h2s::raw(self.plain).await).await
    }
}

fn echoed(answer: &h2s::Answer) -> serde_json::Value {
    serde_json::from_slice(&answer.body).unwrap_or_else(|e| panic!("not an echo ({e}): {}", answer.text()))
}

#[tokio::test]
async fn h2_over_tls_reaches_an_http1_origin() {
    let origin = Origin::echo().await;
    let gw = H2Gateway::in_front_of(origin.addr, "").await;
    let mut client = gw.h2_tls().await;

    let answer = exchange(&mut client, get("https://site.test/hello?x=1"), b"", None).await.unwrap();
    assert_eq!(answer.status, 200);
    let echo = echoed(&answer);
    assert_eq!(echo["version"], "HTTP/1.1");
    assert_eq!(echo["target"], "/hello?x=1");
    assert_eq!(echoed_header(&echo, "host"), ["site.test"]);
    assert_eq!(echoed_header(&echo, "x-forwarded-proto"), ["https"]);
    assert_eq!(echoed_header(&echo, "via"), ["2 portcullis"]);
    assert_eq!(answer.header("x-request-id").map(str::len), Some(32));

    // A body of unknown length is streamed to the origin chunked; one with a length keeps it.
    let body = vec![b'a'; 300 * 1024];
    let post = Request::post("https://site.test/upload").body(()).unwrap();
    let answer = exchange(&mut client, post, &body, None).await.unwrap();
    let echo = echoed(&answer);
    assert_eq!(echo["body_bytes"], 300 * 1024);
    assert_eq!(echoed_header(&echo, "transfer-encoding"), ["chunked"]);
    let sized = Request::post("https://site.test/upload").header("content-length", "5").body(()).unwrap();
    let echo = echoed(&exchange(&mut client, sized, b"hello", None).await.unwrap());
    assert_eq!((echo["body_bytes"].as_u64(), echoed_header(&echo, "content-length")), (Some(5), vec!["5".to_owned()]));

    // A large response streams back with flow control, its length declared.
    let answer = exchange(&mut client, get("https://site.test/bytes/1048576"), b"", None).await.unwrap();
    assert_eq!((answer.body.len(), answer.header("content-length")), (1 << 20, Some("1048576")));

    // Gateway errors are HTTP/2 responses too.
    let teapot = exchange(&mut client, get("https://site.test/status/599"), b"", None).await.unwrap();
    assert_eq!(teapot.status, 599, "statuses up to 999 pass through");
}

#[tokio::test]
async fn h2c_by_prior_knowledge_and_http1_share_the_cleartext_listener() {
    let origin = Origin::echo().await;
    let gw = H2Gateway::in_front_of(origin.addr, "").await;
    let mut client = gw.h2c().await;
    let answer = exchange(&mut client, get("http://site.test/prior"), b"", None).await.unwrap();
    let echo = echoed(&answer);
    assert_eq!(
        (echo["target"].as_str(), echoed_header(&echo, "x-forwarded-proto")),
        (Some("/prior"), vec!["http".to_owned()])
    );
    // Many streams at once on the one connection.
    let requests = (0..20).map(|i| {
        let mut client = client.clone();
        async move { exchange(&mut client, get(&format!("http://site.test/s/{i}")), b"", None).await.unwrap() }
    });
    for (i, answer) in futures_join_all(requests).await.into_iter().enumerate() {
        assert_eq!(echoed(&answer)["target"], format!("/s/{i}"));
    }
    // HTTP/1.1 on the same listener still works.
    assert_eq!(gw.gateway.get("/h1").await.echo()["target"], "/h1");
}

#[tokio::test]
async fn without_h2c_the_preface_is_refused_as_http1() {
    let origin = Origin::echo().await;
    let gw = TestGateway::in_front_of(origin.addr, "").await;
    let mut client = gw.client().await;
    client.send(h2s::PREFACE).await;
    let resp = client.response().await;
    assert_eq!(resp.status, 400, "an HTTP/2 preface is not HTTP/1.1");
}

#[tokio::test]
async fn http1_and_h2_clients_reach_an_h2c_origin_over_one_shared_connection() {
    let origin = H2Origin::start(None).await;
    let gw = H2Gateway::in_front_of(origin.addr, "protocol = \"h2c\"").await;
    let requests = (0..10).map(|i| {
        let gw = &gw.gateway;
        async move { gw.get(&format!("/one/{i}")).await }
    });
    for resp in futures_join_all(requests).await {
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("x-origin-connection"), Some("1"));
    }
    let mut client = gw.h2_tls().await;
    let answer = exchange(&mut client, get("https://site.test/two"), b"", None).await.unwrap();
    assert_eq!(answer.header("x-origin-connection"), Some("1"));
    assert_eq!(origin.connections.load(std::sync::atomic::Ordering::SeqCst), 1, "one multiplexed origin connection");

    let seen = origin.seen();
    let last = seen.iter().find(|s| s.uri.ends_with("/two")).unwrap();
    assert_eq!(last.uri, format!("http://site.test/two"));
    assert_eq!(last.headers.get("te").unwrap(), "trailers");
    assert!(last.headers.get("connection").is_none());
    let stats = gw.gateway.gateway.pool_stats();
    assert_eq!(stats.new, 1);
    assert_eq!(stats.reused, 10);
}

#[tokio::test]
async fn h2_origins_over_tls_are_verified() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["origin.test"]);
    let origin = H2Origin::start(Some(leaf.acceptor(&[H2]))).await;
    let keys = format!("protocol = \"h2\"\ntls = {{ ca = \"{}\", sni = \"origin.test\" }}", ca.pem_file.display());
    let gw = H2Gateway::in_front_of(origin.addr, &keys).await;
    let resp = gw.gateway.get("/secure").await;
    assert_eq!(resp.status, 200);
    assert_eq!(origin.seen()[0].uri, "https://test/secure");
    // An origin that does not speak h2 (no ALPN agreement) is a 502, not garbled bytes.
    let h1_only = H2Origin::start(Some(leaf.acceptor(&[b"http/1.1"]))).await;
    let gw = H2Gateway::in_front_of(h1_only.addr, &keys).await;
    assert_eq!(gw.gateway.get("/").await.status, 502);
}

fn grpc_request(uri: &str) -> Request<()> {
    Request::post(uri).header("content-type", "application/grpc").header("te", "trailers").body(()).unwrap()
}

#[tokio::test]
async fn grpc_trailers_pass_end_to_end() {
    let origin = H2Origin::start(None).await;
    let gw = H2Gateway::in_front_of(origin.addr, "protocol = \"h2c\"").await;
    let mut client = gw.h2_tls().await;
    // A length-prefixed gRPC message, and a request trailer.
    let message = [0u8, 0, 0, 0, 5, b'h', b'e', b'l', b'l', b'o'];
    let mut request_trailers = HeaderMap::new();
    request_trailers.insert("x-checksum", "abc".parse().unwrap());
    let answer =
        exchange(&mut client, grpc_request("https://site.test/pkg.Svc/Call"), &message, Some(request_trailers))
            .await
            .unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(&answer.body[..], &message);
    let trailers = answer.trailers.expect("response trailers");
    assert_eq!(trailers.get("grpc-status").unwrap(), "0");
    assert_eq!(trailers.get("grpc-message").unwrap(), "ok");
    let seen = origin.seen();
    assert_eq!(seen[0].trailers.as_ref().unwrap().get("x-checksum").unwrap(), "abc");
    assert_eq!(seen[0].headers.get("content-type").unwrap(), "application/grpc");
}

#[tokio::test]
async fn trailers_cross_between_http1_chunked_and_h2() {
    // An HTTP/1.1 client's chunked trailers reach an h2 origin as HEADERS, and the origin's
    // trailers come back as a chunked trailer section.
    let origin = H2Origin::start(None).await;
    let gw = H2Gateway::in_front_of(origin.addr, "protocol = \"h2c\"").await;
    let mut client = gw.gateway.client().await;
    client
        .send(
            b"POST /pkg.Svc/Call HTTP/1.1\r\nHost: site.test\r\nContent-Type: application/grpc\r\nTE: trailers\r\n\
              Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nx-checksum: abc\r\n\r\n",
        )
        .await;
    let resp = client.response().await;
    assert_eq!((resp.status, resp.text().as_str()), (200, "hello"));
    assert_eq!(resp.header("transfer-encoding"), Some("chunked"));
    assert!(resp.trailers.iter().any(|(n, v)| n == "grpc-status" && v == "0"), "{:?}", resp.trailers);
    assert_eq!(origin.seen()[0].trailers.as_ref().unwrap().get("x-checksum").unwrap(), "abc");
}

#[tokio::test]
async fn plugins_run_on_h2_requests_as_on_http1() {
    let origin = Origin::echo().await;
    let dir = PluginDir::with(&["waf", "header-rewrite"]);
    let routes = format!(
        "[upstreams.app]\nendpoints = [\"{}\"]\n[[routes]]\nupstream = \"app\"\nplugins = [\n  \
         {{ name = \"waf\" }},\n  {{ name = \"header-rewrite\", config = {{ request = {{ set = {{ \"x-seen-by\" = \"plugin\" }} }} }} }},\n]\n",
        origin.addr
    );
    let gw = H2Gateway::start(&routes, &dir.server_keys()).await;
    let mut client = gw.h2_tls().await;
    let blocked = exchange(&mut client, get("https://site.test/search?q=1%27%20union%20select%20password"), b"", None)
        .await
        .unwrap();
    assert_eq!(blocked.status, 403, "the WAF's reply, over HTTP/2");
    let passed = exchange(&mut client, get("https://site.test/fine"), b"", None).await.unwrap();
    assert_eq!(passed.status, 200);
    assert_eq!(echoed_header(&echoed(&passed), "x-seen-by"), ["plugin"]);
}

#[tokio::test]
async fn an_h2_client_over_tls_and_an_http1_client_over_tls_share_nothing_but_the_route() {
    // HTTP/1.1 over TLS (ALPN http/1.1) on the same TLS listener.
    let origin = Origin::echo().await;
    let gw = H2Gateway::in_front_of(origin.addr, "").await;
    let tls = gw.ca.connect(gw.tls, "site.test", &[b"http/1.1"]).await.unwrap();
    let mut client = Client::from_stream(plain_view(tls).await);
    client.send(b"GET /h1-over-tls HTTP/1.1\r\nHost: site.test\r\n\r\n").await;
    assert_eq!(client.response().await.echo()["target"], "/h1-over-tls");
}

/// `futures::future::join_all` without the dependency: spawn-free, in order.
async fn futures_join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(|o| o.unwrap()).collect()
}

#[tokio::test]
async fn shutdown_sends_goaway_and_finishes_the_streams_in_flight() {
    use tokio::io::AsyncWriteExt;
    let origin = Origin::scripted(|mut stream, _| async move {
        while support::origin::read_head(&mut stream).await.is_some() {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nslow").await;
        }
    })
    .await;
    let H2Gateway { gateway, plain, .. } = H2Gateway::in_front_of(origin.addr, "").await;
    let client = h2s::client(h2s::raw(plain).await).await;
    let in_flight = tokio::spawn({
        let mut client = client.clone();
        async move { exchange(&mut client, get("http://site.test/slow"), b"", None).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let still_open = gateway.gateway.shutdown(std::time::Duration::from_secs(10)).await;
    assert_eq!(still_open, 0, "the connection closed once its stream was done");
    let answer = in_flight.await.unwrap().unwrap();
    assert_eq!((answer.status, answer.text().as_str()), (200, "slow"));
    // After GOAWAY the connection takes no new streams.
    let mut client = client;
    assert!(exchange(&mut client, get("http://site.test/late"), b"", None).await.is_err());
}
