//! The repository's plugins, compiled to components, doing their job through the running
//! gateway: each plugin alone, then the demo's chain of them.
#![allow(clippy::unwrap_used)]

mod support;

use support::{Origin, PluginDir, TestGateway};

/// A gateway whose only route sends everything to `origin` through `plugins`.
async fn gateway(dir: &PluginDir, origin: &Origin, plugins: &str) -> TestGateway {
    let toml = format!(
        "[upstreams.app]\nendpoints = [\"{}\"]\n[[routes]]\nupstream = \"app\"\nplugins = [{plugins}]\n",
        origin.addr
    );
    TestGateway::with_plugins(dir, &toml).await
}

// === header-rewrite ===

#[tokio::test]
async fn header_rewrite_edits_both_directions_with_variables() {
    let origin = Origin::echo().await;
    let dir = PluginDir::with(&["header-rewrite"]);
    // TOML inline tables are one line each.
    let plugins = concat!(
        r#"{ name = "header-rewrite", config = { request = { set = { "x-client" = "${client_ip} ${method} ${path} ${header.user-agent}" }, "#,
        r#"remove = ["x-debug"], rename = { "x-old" = "x-new" } }, response = { set = { "x-served-by" = "portcullis" } } } }"#
    );
    let gw = gateway(&dir, &origin, plugins).await;

    let resp = gw.request("GET", "/p?q=1", "User-Agent: t/1\r\nX-Debug: 1\r\nX-Old: v\r\n").await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.echoed_header("x-client"), ["127.0.0.1 GET /p t/1"]);
    assert!(resp.echoed_header("x-debug").is_empty());
    assert_eq!(resp.echoed_header("x-new"), ["v"]);
    assert_eq!(resp.header("x-served-by"), Some("portcullis"));
}

// === waf ===

#[tokio::test]
async fn waf_blocks_attacks_with_the_rule_id_and_lets_look_alikes_through() {
    let origin = Origin::echo().await;
    let dir = PluginDir::with(&["waf"]);
    let custom = r#"rules = [ { id = "no-internal", target = "path", match = "literal", pattern = "/internal/" } ]"#;
    let gw = gateway(&dir, &origin, &format!(r#"{{ name = "waf", config = {{ mode = "block", {custom} }} }}"#)).await;

    let attacks = [
        ("/search?q=1%27%20union%20select%20password%20from%20users", "", "sqli-union"),
        ("/a?x=%3Cscript%3Ealert(1)%3C/script%3E", "", "xss-script"),
        ("/static/..%2f..%2fetc/passwd", "", "traversal"),
        ("/", "User-Agent: sqlmap/1.7\r\n", "scanner-sqlmap"),
        ("/internal/admin", "", "no-internal"),
    ];
    for (target, headers, rule) in attacks {
        let resp = gw.request("GET", target, headers).await;
        assert_eq!(resp.status, 403, "{target} {headers}");
        let fired = resp.header("x-waf-rule").unwrap_or_default();
        assert!(fired.contains(rule), "{target}: fired {fired:?}, expected {rule}");
    }
    for target in ["/products?sort=union_date", "/select-plan", "/docs/a..b", "/internal-docs/x"] {
        let resp = gw.request("GET", target, "User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n").await;
        assert_eq!(resp.status, 200, "{target} is benign");
        assert_eq!(resp.echo()["target"], target);
    }
}

#[tokio::test]
async fn waf_in_detect_mode_lets_attacks_through() {
    let origin = Origin::echo().await;
    let dir = PluginDir::with(&["waf"]);
    let gw = gateway(&dir, &origin, r#"{ name = "waf", config = { mode = "detect" } }"#).await;
    let resp = gw.request("GET", "/?id=1%20union%20select%201", "").await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("x-waf-rule"), None);
}

// === key-auth and rate-limit ===

/// sha256("demo-key"): the config stores digests only.
const DEMO_KEY_SHA256: &str = "c48a01f49fd0f2cc404bc3cbbc80e91457a3d41bb429a695243de4c61794155c";

#[tokio::test]
async fn key_auth_answers_401_and_names_the_consumer_for_later_plugins() {
    let origin = Origin::echo().await;
    let dir = PluginDir::with(&["key-auth", "header-rewrite"]);
    let plugins = format!(
        r#"{{ name = "key-auth", config = {{ consumers = [ {{ name = "alice", key_sha256 = "{DEMO_KEY_SHA256}" }} ] }} }},
           {{ name = "header-rewrite", config = {{ request = {{ set = {{ "x-consumer" = "${{var.consumer}}" }} }} }} }}"#
    );
    let gw = gateway(&dir, &origin, &plugins).await;

    let missing = gw.request("GET", "/", "").await;
    assert_eq!(missing.status, 401);
    assert!(missing.header("www-authenticate").unwrap_or_default().starts_with("ApiKey realm="));
    assert_eq!(gw.request("GET", "/", "X-Api-Key: wrong\r\n").await.status, 401);

    let ok = gw.request("GET", "/", "X-Api-Key: demo-key\r\n").await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.echoed_header("x-consumer"), ["alice"]);
    assert!(ok.echoed_header("x-api-key").is_empty(), "the key is not passed on");
    assert_eq!(origin.accepted(), 1, "refused requests never reach the origin");
}

// Two worker threads: connections land on either, and the counter is shared by both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_counts_across_connections_and_answers_429_with_retry_after() {
    let origin = Origin::echo().await;
    let dir = PluginDir::with(&["rate-limit"]);
    let gw = gateway(
        &dir,
        &origin,
        r#"{ name = "rate-limit", config = { limit = 3, window = "1h", key = "header:x-user" } }"#,
    )
    .await;

    // Separate connections (the counter is shared by all of them and all workers).
    for _ in 0..3 {
        assert_eq!(gw.request("GET", "/", "X-User: u1\r\n").await.status, 200);
    }
    let limited = gw.request("GET", "/", "X-User: u1\r\n").await;
    assert_eq!(limited.status, 429);
    let retry_after: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry_after), "retry-after {retry_after}");
    assert_eq!(limited.header("x-ratelimit-limit"), Some("3"));
    assert_eq!(gw.request("GET", "/", "X-User: u2\r\n").await.status, 200, "another key has its own budget");
}

// === origin-select ===

#[tokio::test]
async fn origin_select_routes_by_header_and_splits_sticky_by_key() {
    let stable = Origin::echo().await;
    let canary = Origin::echo().await;
    let dir = PluginDir::with(&["origin-select"]);
    let toml = format!(
        "[upstreams.stable]\nendpoints = [\"{}\"]\n[upstreams.canary]\nendpoints = [\"{}\"]\n[[routes]]\nupstream = \"stable\"\nplugins = [{}]\n",
        stable.addr,
        canary.addr,
        r#"{ name = "origin-select", config = { rules = [ { header = "x-canary", equals = "1", upstream = "canary" } ], split = { upstreams = { stable = 50, canary = 50 }, sticky = "header:x-user" } } }"#
    );
    let gw = TestGateway::with_plugins(&dir, &toml).await;

    // The echo names the origin that served it; the forced request tells us canary's name.
    let served_by = |resp: &support::Response| resp.echo()["served_by"].as_str().unwrap().to_owned();
    let canary_name = served_by(&gw.request("GET", "/", "X-Canary: 1\r\n").await);
    assert_eq!((stable.accepted(), canary.accepted()), (0, 1));

    // The same key always lands on the same upstream; over many keys both get some.
    let mut to_canary = 0;
    for user in 0..24 {
        let first = served_by(&gw.request("GET", "/", &format!("X-User: user-{user}\r\n")).await);
        for _ in 0..3 {
            let again = served_by(&gw.request("GET", "/", &format!("X-User: user-{user}\r\n")).await);
            assert_eq!(again, first, "user-{user} moved upstream");
        }
        to_canary += usize::from(first == canary_name);
    }
    assert!((1..24).contains(&to_canary), "a 50/50 split sent {to_canary} of 24 keys to canary");
}

// === the demo's chains ===

#[tokio::test]
async fn the_demo_config_runs_its_plugin_chains() {
    let demo = Origin::echo().await;
    let canary = Origin::echo().await;
    // The demo config as `portcullis demo` runs it, on free ports.
    let toml = portcullis::demo::DEMO_CONFIG
        .replace("127.0.0.1:8080", "127.0.0.1:0")
        .replace("127.0.0.1:8443", "127.0.0.1:0")
        .replace("127.0.0.1:9901", "127.0.0.1:0")
        .replace("\"127.0.0.1:9001\", \"127.0.0.1:9002\"", &format!("\"{}\"", demo.addr))
        .replace("127.0.0.1:9003", &canary.addr.to_string())
        // Fixed windows turn over on the clock; an hour makes a turn mid-test vanishingly rare.
        .replace(r#"window = "10s""#, r#"window = "1h""#);
    let mut config = portcullis::Config::from_toml_str(&toml, "examples/demo.toml").unwrap();
    config.server.plugin_dir = Some(support::plugins::built().plugins.clone());
    config.server.plugin_cache_dir = Some(support::plugins::cache_dir());
    // The certificate `portcullis demo` makes for its HTTPS listener.
    let cert_dir = support::gateway::TempFile::new("demo-certs", "");
    let _ = std::fs::remove_file(&cert_dir.path);
    let (cert, key) = portcullis::demo::self_signed_certificate(&cert_dir.path).unwrap();
    config.tls.certificates[0].cert = cert.clone();
    config.tls.certificates[0].key = key;
    let gateway = portcullis::Gateway::start(config).await.unwrap();
    let tls_addr = gateway.local_addrs()[1];
    let gw = TestGateway { addr: gateway.local_addrs()[0], gateway };

    // HTTPS with HTTP/2, as the README's `curl --http2 -k`, through the same chain.
    let mut roots = rustls::RootCertStore::empty();
    use rustls_pki_types::pem::PemObject;
    roots.add(rustls_pki_types::CertificateDer::from_pem_file(&cert).unwrap()).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut client_config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    client_config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = tokio::net::TcpStream::connect(tls_addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client_config)).connect(name, tcp).await.unwrap();
    let mut h2 = support::h2::client(tls).await;
    let answer = support::h2::exchange(&mut h2, support::h2::get("https://localhost/hello"), b"", None).await.unwrap();
    assert_eq!((answer.status, answer.header("x-gateway")), (200, Some("portcullis")));
    let _ = std::fs::remove_dir_all(&cert_dir.path);

    assert_eq!(gw.request("GET", "/hello", "").await.header("x-gateway"), Some("portcullis"));
    assert_eq!(gw.request("GET", "/search?q=1%27%20union%20select%20password", "").await.status, 403);
    assert_eq!(gw.request("GET", "/api/items", "").await.status, 401);
    let ok = gw.request("GET", "/api/items", "X-Api-Key: demo-key\r\n").await;
    assert_eq!((ok.status, ok.echoed_header("x-consumer")), (200, vec!["alice".to_owned()]));
    let statuses: Vec<u16> = {
        let mut out = Vec::new();
        for _ in 0..5 {
            out.push(gw.request("GET", "/api/x", "X-Api-Key: demo-key\r\n").await.status);
        }
        out
    };
    assert_eq!(statuses, [200, 200, 200, 200, 429], "5 per window per consumer (one spent above)");
    assert_eq!(gw.request("GET", "/", "X-Canary: 1\r\n").await.status, 200);
    assert_eq!(canary.accepted(), 1);
}

#[tokio::test]
async fn header_rewrite_never_reads_a_value_it_removed_earlier_in_the_call() {
    let origin = Origin::echo().await;
    let dir = PluginDir::with(&["header-rewrite"]);
    // `x-user` is declared (the template reads it), removed, and then read after `rename`
    // made the SDK send its buffered edits: the read must see the removal.
    let plugins = concat!(
        r#"{ name = "header-rewrite", config = { request = { remove = ["x-user"], rename = { "x-a" = "x-b" }, "#,
        r#"set = { "x-audit" = "[${header.x-user}]" } } } }"#
    );
    let gw = gateway(&dir, &origin, plugins).await;
    let resp = gw.request("GET", "/", "X-User: admin\r\nX-A: 1\r\n").await;
    assert_eq!(resp.echoed_header("x-audit"), ["[]"]);
    assert_eq!(resp.echoed_header("x-b"), ["1"]);
    assert!(resp.echoed_header("x-user").is_empty());
}
