//! TLS on both sides (rustls): listeners with a certificate per SNI name, ALPN, certificate
//! errors reported with file, line and key, certificates renewed by a reload, and origins
//! reached over verified TLS with pooled connections.

#![allow(clippy::unwrap_used)]

#[allow(unused_imports)]
mod support;

use std::net::SocketAddr;

use support::tls::{plain_view, presented, Leaf, TestCa};
use support::{Client, Origin, TestGateway};

const H1: &[u8] = b"http/1.1";

fn certificate(leaf: &Leaf, names: &[&str], default: bool) -> String {
    let names: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    format!(
        "[[tls.certificates]]\ncert = \"{}\"\nkey = \"{}\"\nnames = [{}]\ndefault = {default}\n",
        leaf.cert.display(),
        leaf.key.display(),
        names.join(", ")
    )
}

/// A gateway with a cleartext and a TLS listener in front of `origin`; returns the TLS address.
async fn gateway(origin: SocketAddr, tls: &str) -> (TestGateway, SocketAddr) {
    let toml = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\nlisten_tls = [\"127.0.0.1:0\"]\n{tls}\n\
         [upstreams.app]\nendpoints = [\"{origin}\"]\n[[routes]]\nupstream = \"app\"\n"
    );
    let gateway = TestGateway::start(&toml).await;
    let tls_addr = gateway.gateway.local_addrs()[1];
    (gateway, tls_addr)
}

async fn https_get(ca: &TestCa, addr: SocketAddr, name: &str, path: &str) -> support::Response {
    let tls = ca.connect(addr, name, &[H1]).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(H1));
    let mut client = Client::from_stream(plain_view(tls).await);
    client.send(format!("GET {path} HTTP/1.1\r\nHost: {name}\r\n\r\n").as_bytes()).await;
    client.response().await
}

#[tokio::test]
async fn https_requests_reach_the_origin_marked_as_https() {
    let origin = Origin::echo().await;
    let ca = TestCa::new();
    let leaf = ca.leaf(&["site.test"]);
    let (gw, tls_addr) = gateway(origin.addr, &certificate(&leaf, &["site.test"], false)).await;

    let resp = https_get(&ca, tls_addr, "site.test", "/secure").await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.echo()["target"], "/secure");
    assert_eq!(resp.echoed_header("x-forwarded-proto"), ["https"]);
    // The cleartext listener still says http.
    assert_eq!(gw.get("/plain").await.echoed_header("x-forwarded-proto"), ["http"]);
}

#[tokio::test]
async fn sni_picks_the_certificate_and_unknown_names_get_the_default() {
    let origin = Origin::echo().await;
    let ca = TestCa::new();
    let first = ca.leaf(&["first.test"]);
    let wild = ca.leaf(&["*.wild.test"]);
    let fallback = ca.leaf(&["fallback.test", "other.test"]);
    let tls = certificate(&first, &["first.test"], false)
        + &certificate(&wild, &["*.wild.test"], false)
        + &certificate(&fallback, &["fallback.test"], true);
    let (_gw, addr) = gateway(origin.addr, &tls).await;

    let tls = ca.connect(addr, "first.test", &[H1]).await.unwrap();
    assert_eq!(presented(&tls), first.der);
    let tls = ca.connect(addr, "api.wild.test", &[H1]).await.unwrap();
    assert_eq!(presented(&tls), wild.der);
    // Another name (the default is valid for it) and no SNI at all (an IP address) both get
    // the default.
    let tls = ca.connect(addr, "other.test", &[H1]).await.unwrap();
    assert_eq!(presented(&tls), fallback.der);
    let no_sni = ca.connect(addr, "127.0.0.1", &[H1]).await;
    // The default certificate is not valid for 127.0.0.1, so our client refuses it: but it
    // was offered (the handshake reached verification rather than an alert from the server).
    let err = no_sni.expect_err("the default certificate does not name 127.0.0.1");
    assert!(err.to_string().contains("certificate") || err.to_string().contains("NotValidForName"), "{err}");
}

#[tokio::test]
async fn certificate_problems_name_the_file_line_and_key() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["site.test"]);
    let other = ca.leaf(&["site.test"]);
    let origin = "127.0.0.1:9";
    let check = |tls: String| async move {
        let toml = format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\nlisten_tls = [\"127.0.0.1:0\"]\n{tls}\n\
             [upstreams.app]\nendpoints = [\"{origin}\"]\n[[routes]]\nupstream = \"app\"\n"
        );
        let config = portcullis::Config::from_toml_str(&toml, "gw.toml").unwrap();
        match portcullis::Gateway::start(config).await {
            Ok(_) => panic!("started with {tls}"),
            Err(err) => err.to_string(),
        }
    };
    // A key that belongs to another certificate.
    let mismatched = format!(
        "[[tls.certificates]]\ncert = \"{}\"\nkey = \"{}\"\nnames = [\"site.test\"]\n",
        leaf.cert.display(),
        other.key.display()
    );
    let err = check(mismatched).await;
    assert!(err.starts_with("gw.toml:4:1: `tls.certificates[0]`"), "{err}");
    assert!(err.contains("do not make a usable pair"), "{err}");
    // A certificate listed for a name it does not cover.
    let err = check(certificate(&leaf, &["elsewhere.test"], false)).await;
    assert!(err.contains("`tls.certificates[0]`") && err.contains("not valid for \"elsewhere.test\""), "{err}");
    // A file that is not there.
    let missing = "[[tls.certificates]]\ncert = \"/nonexistent/cert.pem\"\nkey = \"/nonexistent/key.pem\"\nnames = [\"a.test\"]\n";
    let err = check(missing.to_owned()).await;
    assert!(err.contains("`tls.certificates[0]`") && err.contains("/nonexistent/cert.pem"), "{err}");
    // A key file holding no key.
    let no_key =
        format!("[[tls.certificates]]\ncert = \"{0}\"\nkey = \"{0}\"\nnames = [\"site.test\"]\n", leaf.cert.display());
    assert!(check(no_key).await.contains("holds no PEM private key"));
    // TLS listeners without certificates are refused when the file is read.
    let toml = "[server]\nlisten = [\"127.0.0.1:0\"]\nlisten_tls = [\"127.0.0.1:0\"]\n\
                [upstreams.app]\nendpoints = [\"127.0.0.1:9\"]\n[[routes]]\nupstream = \"app\"\n";
    let err = portcullis::Config::from_toml_str(toml, "gw.toml").unwrap_err().to_string();
    assert!(err.starts_with("gw.toml:3:14: `server.listen_tls`: TLS listeners need a certificate"), "{err}");
}

#[tokio::test]
async fn a_reload_serves_renewed_certificates() {
    let origin = Origin::echo().await;
    let ca = TestCa::new();
    let old = ca.leaf(&["site.test"]);
    let new = ca.leaf(&["site.test"]);
    let (gw, addr) = gateway(origin.addr, &certificate(&old, &["site.test"], false)).await;
    assert_eq!(presented(&ca.connect(addr, "site.test", &[H1]).await.unwrap()), old.der);

    let mut config = gw.gateway.snapshot().config().clone();
    config.tls.certificates[0].cert = new.cert.path.clone();
    config.tls.certificates[0].key = new.key.path.clone();
    gw.gateway.reload(config).await.unwrap();
    assert_eq!(presented(&ca.connect(addr, "site.test", &[H1]).await.unwrap()), new.der);
}

#[tokio::test]
async fn renewed_certificate_files_are_picked_up_without_a_signal() {
    // `portcullis run` watches the files its config names: overwriting the certificate and
    // key (as a renewal does) reloads them.
    let ca = TestCa::new();
    let old = ca.leaf(&["site.test"]);
    let new = ca.leaf(&["site.test"]);
    let cert = support::gateway::TempFile::new("live-cert.pem", &std::fs::read_to_string(&old.cert.path).unwrap());
    let key = support::gateway::TempFile::new("live-key.pem", &std::fs::read_to_string(&old.key.path).unwrap());
    let toml = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\nlisten_tls = [\"127.0.0.1:0\"]\n\
         [[tls.certificates]]\ncert = \"{}\"\nkey = \"{}\"\nnames = [\"site.test\"]\n\
         [upstreams.app]\nendpoints = [\"127.0.0.1:9\"]\n[[routes]]\nupstream = \"app\"\n",
        cert.display(),
        key.display()
    );
    let gateway = support::gateway::GatewayProcess::start(&toml);
    let addr = gateway.tls_addr();
    assert_eq!(presented(&ca.connect(addr, "site.test", &[H1]).await.unwrap()), old.der);
    // Key first, then certificate: in between, a reload fails (a mismatched pair) and the
    // old pair keeps serving; the next tick takes the complete new pair.
    std::fs::copy(&new.key.path, &key.path).unwrap();
    std::fs::copy(&new.cert.path, &cert.path).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let served = presented(&ca.connect(addr, "site.test", &[H1]).await.unwrap());
        if served == new.der {
            break;
        }
        assert_eq!(served, old.der);
        assert!(std::time::Instant::now() < deadline, "the renewed certificate was not picked up");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// An HTTP/1.1 origin behind TLS, answering every request on a connection with 200 and the
/// connection's number in `x-conn`.
async fn tls_origin(leaf: &Leaf) -> Origin {
    tls_origin_with(leaf.acceptor(&[H1])).await
}

async fn tls_origin_with(acceptor: tokio_rustls::TlsAcceptor) -> Origin {
    let number = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    Origin::scripted(move |tcp, _heads| {
        let acceptor = acceptor.clone();
        let number = number.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let Ok(mut tls) = acceptor.accept(tcp).await else { return };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    buf.drain(..end + 4);
                    let reply = format!("HTTP/1.1 200 OK\r\nx-conn: {number}\r\ncontent-length: 2\r\n\r\nok");
                    if tls.write_all(reply.as_bytes()).await.is_err() || tls.flush().await.is_err() {
                        return;
                    }
                }
                match tls.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
        }
    })
    .await
}

#[tokio::test]
async fn origins_over_tls_are_verified_and_their_connections_pooled() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["origin.test"]);
    let origin = tls_origin(&leaf).await;
    let upstream = |tls: &str| {
        format!("[upstreams.app]\nendpoints = [\"{}\"]\ntls = {tls}\n[[routes]]\nupstream = \"app\"\n", origin.addr)
    };
    // Trusting the test CA, with the name the certificate carries.
    let trusted = upstream(&format!("{{ ca = \"{}\", sni = \"origin.test\" }}", ca.pem_file.display()));
    let gw = TestGateway::start(&trusted).await;
    let mut client = gw.client().await;
    for _ in 0..3 {
        client.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        let resp = client.response().await;
        assert_eq!((resp.status, resp.text().as_str()), (200, "ok"));
        assert_eq!(resp.header("x-conn"), Some("1"), "one pooled TLS connection for all three");
    }
    let stats = gw.gateway.pool_stats();
    assert_eq!((stats.new, stats.reused), (1, 2));

    // The webpki roots do not know the test CA: 502, and the origin's certificate is never trusted.
    let untrusted = TestGateway::start(&upstream("{ sni = \"origin.test\" }")).await;
    assert_eq!(untrusted.get("/").await.status, 502);
    // The right CA, the wrong name: 502 too.
    let misnamed = upstream(&format!("{{ ca = \"{}\", sni = \"other.test\" }}", ca.pem_file.display()));
    assert_eq!(TestGateway::start(&misnamed).await.get("/").await.status, 502);
}

#[tokio::test]
async fn a_client_certificate_is_presented_to_origins_that_ask() {
    let ca = TestCa::new();
    let server = ca.leaf(&["origin.test"]);
    let client = ca.leaf(&["gateway.test"]);
    let origin = tls_origin_with(server.acceptor_requiring_clients_of(&ca, &[H1])).await;
    let upstream = |client_keys: &str| {
        format!(
            "[upstreams.app]\nendpoints = [\"{}\"]\ntls = {{ ca = \"{}\", sni = \"origin.test\"{client_keys} }}\n\
             [[routes]]\nupstream = \"app\"\n",
            origin.addr,
            ca.pem_file.display()
        )
    };
    let keys = format!(", client_cert = \"{}\", client_key = \"{}\"", client.cert.display(), client.key.display());
    let mutual = TestGateway::start(&upstream(&keys)).await;
    assert_eq!(mutual.get("/").await.status, 200);
    let anonymous = TestGateway::start(&upstream("")).await;
    assert_eq!(anonymous.get("/").await.status, 502, "the origin refuses a client without a certificate");
}
