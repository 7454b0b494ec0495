//! Golden tests: the exact message a user sees for each kind of bad config, and the
//! values good configs parse to. A changed message should be a deliberate decision.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use portcullis::config::{
    Balance, CertificateConfig, Config, Forwarding, Http2Config, Isolation, Limits, LogConfig, LogFormat,
    PluginSandbox, PoolConfig, Position, RouteConfig, SandboxConfig, ScrubConfig, ServerConfig, Timeouts, TlsConfig,
    UpstreamConfig, UpstreamProtocol, UpstreamTls, XffMode,
};
use portcullis_scrub::Pattern;

/// The smallest valid config; tests break one thing in it at a time.
const MINIMAL: &str = r#"
[server]
listen = ["127.0.0.1:8080"]
[upstreams.app]
endpoints = ["127.0.0.1:9000"]
[[routes]]
match = { path_prefix = "/" }
upstream = "app"
"#;

/// `MINIMAL` (without its leading newline, so line 1 is `[server]`) with `from`
/// replaced by `to`; panics if `from` is absent so a typo cannot make a test vacuous.
fn minimal_with(from: &str, to: &str) -> String {
    let src = MINIMAL.trim_start_matches('\n');
    assert!(src.contains(from), "MINIMAL has no {from:?}");
    src.replacen(from, to, 1)
}

/// `MINIMAL` followed by `extra`, which therefore starts on line 8.
fn minimal_plus(extra: &str) -> String {
    format!("{}{extra}", MINIMAL.trim_start_matches('\n'))
}

fn error(src: &str) -> String {
    Config::from_toml_str(src, "gw.toml").unwrap_err().to_string()
}

// === syntax and shape ===

#[test]
fn syntax_error() {
    let src = minimal_with(r#"upstream = "app""#, r#"upstream = "app"#);
    assert_eq!(error(&src), "gw.toml:7:16: invalid basic string");
}

#[test]
fn unknown_key_at_top_level() {
    let src = minimal_with("[upstreams.app]", "[limit]\nmax_headers = 10\n[upstreams.app]");
    assert_eq!(
        error(&src),
        "gw.toml:3:2: `limit`: unknown field `limit`, expected one of `server`, `limits`, \
         `timeouts`, `forwarding`, `scrub`, `pool`, `sandbox`, `log`, `tls`, `http2`, `upstreams`, `routes`"
    );
}

#[test]
fn unknown_key_in_route_match() {
    let src = minimal_with(r#"{ path_prefix = "/" }"#, r#"{ path_prefix = "/", hots = "a.com" }"#);
    assert_eq!(
        error(&src),
        "gw.toml:6:30: `routes[0].match.hots`: unknown field `hots`, expected one of `host`, \
         `path_prefix`, `methods`"
    );
}

#[test]
fn wrong_type() {
    let src = minimal_with("[upstreams.app]", "workers = \"two\"\n[upstreams.app]");
    assert_eq!(error(&src), "gw.toml:3:11: `server.workers`: invalid type: string \"two\", expected usize");
}

#[test]
fn missing_server_table() {
    let src = minimal_with("[server]\nlisten = [\"127.0.0.1:8080\"]\n", "");
    assert_eq!(error(&src), "gw.toml:1:1: missing field `server`");
}

#[test]
fn missing_key_points_at_its_table() {
    let src = minimal_with("\nupstream = \"app\"", "");
    assert_eq!(error(&src), "gw.toml:5:1: `routes[0]`: missing field `upstream`");
}

// === server ===

#[test]
fn bad_listen_address() {
    let src = minimal_with("127.0.0.1:8080", "localhost:8080");
    assert_eq!(
        error(&src),
        "gw.toml:2:11: `server.listen[0]`: invalid listen address \"localhost:8080\": expected \
         IP:port such as \"127.0.0.1:8080\" or \"[::1]:8080\""
    );
}

#[test]
fn empty_listen() {
    let src = minimal_with(r#"["127.0.0.1:8080"]"#, "[]");
    assert_eq!(error(&src), "gw.toml:2:10: `server.listen`: no listen addresses; add one such as \"127.0.0.1:8080\"");
}

#[test]
fn zero_workers() {
    let src = minimal_with("[upstreams.app]", "workers = 0\n[upstreams.app]");
    assert_eq!(error(&src), "gw.toml:3:11: `server.workers`: must be at least 1; omit `workers` to run one per core");
}

// === limits, timeouts, forwarding ===

#[test]
fn bad_size() {
    let src = minimal_plus("[limits]\nmax_body_bytes = \"64MB\"\n");
    assert_eq!(
        error(&src),
        "gw.toml:9:18: `limits.max_body_bytes`: invalid size \"64MB\": expected a byte count \
         such as 65536 or a string such as \"64KiB\" (units: B, KiB or k, MiB or m, GiB or g)"
    );
}

#[test]
fn duration_without_unit() {
    let src = minimal_plus("[timeouts]\nheader_read = 10\n");
    assert_eq!(
        error(&src),
        "gw.toml:9:15: `timeouts.header_read`: duration 10 has no unit; add one, e.g. \"10s\" \
         or \"10ms\""
    );
}

#[test]
fn bad_duration_unit() {
    let src = minimal_plus("[pool]\nidle_timeout = \"1d\"\n");
    assert_eq!(
        error(&src),
        "gw.toml:9:16: `pool.idle_timeout`: invalid duration \"1d\": expected a string such as \
         \"10s\" or \"250ms\" (units: ms, s, m, h)"
    );
}

#[test]
fn unknown_forwarding_mode() {
    let src = minimal_plus("[forwarding]\nx_forwarded_for = \"keep\"\n");
    assert_eq!(
        error(&src),
        "gw.toml:9:19: `forwarding.x_forwarded_for`: unknown variant `keep`, expected one of \
         `append`, `replace`, `off`"
    );
}

// === upstreams ===

#[test]
fn empty_endpoints() {
    let src = minimal_with(r#"["127.0.0.1:9000"]"#, "[]");
    assert_eq!(
        error(&src),
        "gw.toml:4:13: `upstreams.app.endpoints`: no endpoints; add one such as \"127.0.0.1:9000\""
    );
}

#[test]
fn endpoint_without_port() {
    let src = minimal_with("127.0.0.1:9000", "127.0.0.1");
    assert_eq!(
        error(&src),
        "gw.toml:4:14: `upstreams.app.endpoints[0]`: invalid endpoint \"127.0.0.1\": expected \
         host:port such as \"127.0.0.1:9000\"; the port is required"
    );
}

#[test]
fn zero_max_attempts() {
    let src = minimal_with("[[routes]]", "max_attempts = 0\n[[routes]]");
    assert_eq!(error(&src), "gw.toml:5:16: `upstreams.app.max_attempts`: must be at least 1; it counts the first try");
}

// === TLS and HTTP/2 ===

#[test]
fn h2_upstream_needs_tls() {
    let src = minimal_with("[[routes]]", "protocol = \"h2\"\n[[routes]]");
    assert_eq!(
        error(&src),
        "gw.toml:5:12: `upstreams.app.protocol`: \"h2\" is HTTP/2 over TLS: add `tls = {}` (or use \"h2c\" for cleartext)"
    );
}

#[test]
fn h2c_upstream_refuses_tls() {
    let src = minimal_with("[[routes]]", "protocol = \"h2c\"\ntls = {}\n[[routes]]");
    assert_eq!(
        error(&src),
        "gw.toml:6:7: `upstreams.app.tls`: \"h2c\" is cleartext HTTP/2: remove `tls` (or use \"h2\")"
    );
}

#[test]
fn client_certificate_needs_its_key() {
    let src = minimal_with("[[routes]]", "tls = { client_cert = \"c.pem\" }\n[[routes]]");
    assert_eq!(
        error(&src),
        "gw.toml:5:7: `upstreams.app.tls`: `client_cert` and `client_key` go together: set both or neither"
    );
}

#[test]
fn too_many_concurrent_streams() {
    let src = minimal_plus("[http2]\nmax_concurrent_streams = 1000\n");
    assert_eq!(
        error(&src),
        "gw.toml:8:1: `http2.max_concurrent_streams`: must be 1 to 128: every open stream may hold an upstream request"
    );
}

#[test]
fn certificate_without_names() {
    let src = minimal_plus("[[tls.certificates]]\ncert = \"c.pem\"\nkey = \"k.pem\"\nnames = []\n");
    assert_eq!(
        error(&src),
        "gw.toml:11:9: `tls.certificates[0].names`: no names; list the SNI names this certificate serves, such as [\"example.com\"]"
    );
}

#[test]
fn h2c_cannot_be_tunnelled() {
    let src = minimal_with(r#"upstream = "app""#, "upstream = \"app\"\nallow_upgrade = [\"h2c\"]");
    assert_eq!(
        error(&src),
        "gw.toml:8:18: `routes[0].allow_upgrade[0]`: \"h2c\" cannot be tunnelled: serve HTTP/2 with `server.h2c` or TLS instead"
    );
}

#[test]
fn tls_listener_twice() {
    let listen = "listen = [\"127.0.0.1:8080\"]";
    let src = minimal_with(listen, &format!("{listen}\nlisten_tls = [\"127.0.0.1:8080\"]"))
        + "[[tls.certificates]]\ncert = \"c.pem\"\nkey = \"k.pem\"\nnames = [\"a.test\"]\n";
    assert_eq!(error(&src), "gw.toml:3:15: `server.listen_tls[0]`: 127.0.0.1:8080 is listed twice");
}

// === routes ===

#[test]
fn unknown_upstream() {
    let src = minimal_with(r#"upstream = "app""#, r#"upstream = "ap""#);
    assert_eq!(error(&src), "gw.toml:7:12: `routes[0].upstream`: unknown upstream `ap`; configured: app");
}

#[test]
fn path_prefix_without_slash() {
    let src = minimal_with(r#"path_prefix = "/""#, r#"path_prefix = "api""#);
    assert_eq!(error(&src), "gw.toml:6:25: `routes[0].match.path_prefix`: path_prefix \"api\" must start with '/'");
}

#[test]
fn bad_wildcard_host() {
    let src = minimal_with("{ path_prefix", r#"{ host = "a*.b", path_prefix"#);
    assert_eq!(
        error(&src),
        "gw.toml:6:18: `routes[0].match.host`: invalid host \"a*.b\": a wildcard must be a \
         whole leading label, as in \"*.example.com\""
    );
}

#[test]
fn bad_scrub_pattern() {
    let src = minimal_plus("[scrub]\nrequest_headers = [\"x-internal-*\", \"x-*-secret\"]\n");
    assert_eq!(
        error(&src),
        "gw.toml:9:36: `scrub.request_headers[1]`: `*` is only allowed at the end, as a prefix wildcard"
    );
    let src = minimal_plus("[scrub]\nresponse_headers = [\"x backend\"]\n");
    assert_eq!(
        error(&src),
        "gw.toml:9:21: `scrub.response_headers[0]`: header names may only contain letters, digits and \
         !#$%&'+-.^_`|~"
    );
}

#[test]
fn invalid_method_token() {
    let src = minimal_with("{ path_prefix", r#"{ methods = ["GET", "GET POST"], path_prefix"#);
    assert_eq!(
        error(&src),
        "gw.toml:6:29: `routes[0].match.methods[1]`: invalid method \"GET POST\": expected a \
         token such as \"GET\""
    );
}

#[test]
fn no_routes() {
    let src = minimal_with("[[routes]]\nmatch = { path_prefix = \"/\" }\nupstream = \"app\"\n", "");
    let src = format!("routes = []\n{src}");
    assert_eq!(error(&src), "gw.toml:1:10: `routes`: no routes; add at least one [[routes]] entry");
}

#[test]
fn unreadable_file() {
    let err = Config::load(Path::new("tests/fixtures/config/missing.toml")).unwrap_err();
    assert_eq!(err.line, 0);
    assert!(err.to_string().starts_with("tests/fixtures/config/missing.toml: cannot read config: "), "{err}");
}

// === good configs ===

#[test]
fn minimal_config_gets_every_default() {
    let config = Config::from_toml_str(MINIMAL, "gw.toml").unwrap();
    assert_eq!(
        config.server,
        ServerConfig {
            listen: vec!["127.0.0.1:8080".parse().unwrap()],
            workers: None,
            max_connections: 10_000,
            reuse_port: true,
            plugin_dir: None,
            plugin_cache_dir: None,
            admin: None,
            handover: None,
            listen_tls: vec![],
            h2c: false,
        }
    );
    assert_eq!(config.tls, TlsConfig::default());
    assert_eq!(
        config.http2,
        Http2Config {
            max_concurrent_streams: 100,
            max_header_list_size: 64 * 1024,
            stream_window: 256 * 1024,
            connection_window: 1024 * 1024,
            max_resets: 200,
        }
    );
    assert_eq!(
        config.limits,
        Limits {
            max_headers: 100,
            max_head_bytes: 64 * 1024,
            max_request_line: 8 * 1024,
            max_body_bytes: 64 * 1024 * 1024,
        }
    );
    assert_eq!(
        config.timeouts,
        Timeouts {
            header_read: Duration::from_secs(10),
            body_idle: Duration::from_secs(30),
            body_min_rate: None,
            keepalive_idle: Duration::from_secs(60),
            upstream_connect: Duration::from_secs(5),
            upstream_response: Duration::from_secs(60),
            upstream_idle: Duration::from_secs(60),
            tunnel_idle: Duration::from_secs(600),
            drain: Duration::from_secs(30),
        }
    );
    assert_eq!(
        config.forwarding,
        Forwarding { x_forwarded_for: XffMode::Append, x_forwarded_proto: true, via: Some("portcullis".to_owned()) }
    );
    assert_eq!(config.pool, PoolConfig { idle_timeout: Duration::from_secs(60), max_idle_per_key: 32 });
    let app = UpstreamConfig {
        endpoints: vec!["127.0.0.1:9000".to_owned()],
        balance: Balance::RoundRobin,
        max_attempts: 1,
        protocol: UpstreamProtocol::Http1,
        tls: None,
    };
    assert_eq!(config.upstreams, BTreeMap::from([("app".to_owned(), app)]));
    assert_eq!(
        config.routes,
        [RouteConfig {
            host: None,
            path_prefix: "/".to_owned(),
            methods: None,
            upstream: "app".to_owned(),
            allow_upgrade: vec![],
            name: "routes[0]".to_owned(),
            plugins: vec![],
        }]
    );
}

#[test]
fn full_config_sets_every_key() {
    let config = Config::load(Path::new("tests/fixtures/config/full.toml")).unwrap();
    let expected = Config {
        server: ServerConfig {
            listen: vec!["127.0.0.1:8080".parse().unwrap(), "[::1]:8443".parse().unwrap()],
            workers: Some(2),
            max_connections: 500,
            reuse_port: false,
            plugin_dir: None,
            plugin_cache_dir: None,
            admin: Some("0.0.0.0:9901".parse().unwrap()),
            handover: Some("tests/fixtures/config/gw.sock".into()),
            listen_tls: vec!["127.0.0.1:8444".parse().unwrap()],
            h2c: true,
        },
        tls: TlsConfig {
            certificates: vec![CertificateConfig {
                cert: "tests/fixtures/config/certs/site.pem".into(),
                key: "tests/fixtures/config/certs/site.key".into(),
                names: vec!["example.com".to_owned(), "*.example.com".to_owned()],
                default: true,
                at: position(14, 1, "tls.certificates[0]"),
            }],
        },
        http2: Http2Config {
            max_concurrent_streams: 64,
            max_header_list_size: 32 * 1024,
            stream_window: 512 * 1024,
            connection_window: 2 * 1024 * 1024,
            max_resets: 50,
        },
        limits: Limits {
            max_headers: 50,
            max_head_bytes: 32 * 1024,
            max_request_line: 4 * 1024,
            max_body_bytes: 1 << 30,
        },
        timeouts: Timeouts {
            header_read: Duration::from_secs(5),
            body_idle: Duration::from_secs(15),
            body_min_rate: Some(1024),
            keepalive_idle: Duration::from_secs(120),
            upstream_connect: Duration::from_millis(250),
            upstream_response: Duration::from_secs(3600),
            upstream_idle: Duration::from_secs(45),
            tunnel_idle: Duration::from_secs(120),
            drain: Duration::from_secs(5),
        },
        forwarding: Forwarding { x_forwarded_for: XffMode::Replace, x_forwarded_proto: false, via: None },
        scrub: ScrubConfig {
            request_headers: vec![Pattern::Prefix(b"x-internal-".to_vec()), Pattern::Exact(b"cf-worker".to_vec())],
            response_headers: vec![Pattern::Exact(b"x-backend-server".to_vec())],
        },
        pool: PoolConfig { idle_timeout: Duration::from_secs(30), max_idle_per_key: 0 },
        log: LogConfig { format: LogFormat::Json, access: false },
        sandbox: SandboxConfig {
            defaults: PluginSandbox {
                cpu_deadline: Duration::from_millis(50),
                memory: 32 << 20,
                cooperative: false,
                isolation: Isolation::PerRequest,
            },
            plugins: BTreeMap::new(),
        },
        upstreams: BTreeMap::from([
            (
                "app".to_owned(),
                UpstreamConfig {
                    endpoints: ["127.0.0.1:9000", "127.0.0.1:9001", "app.internal:9002", "[::1]:9003"]
                        .map(str::to_owned)
                        .to_vec(),
                    balance: Balance::RoundRobin,
                    max_attempts: 3,
                    protocol: UpstreamProtocol::Http1,
                    tls: None,
                },
            ),
            (
                "static".to_owned(),
                UpstreamConfig {
                    endpoints: vec!["127.0.0.1:9100".to_owned()],
                    balance: Balance::RoundRobin,
                    max_attempts: 5,
                    protocol: UpstreamProtocol::H2,
                    tls: Some(UpstreamTls {
                        ca: Some("tests/fixtures/config/certs/ca.pem".into()),
                        sni: Some("static.internal".to_owned()),
                        client_cert: Some("tests/fixtures/config/certs/client.pem".into()),
                        client_key: Some("tests/fixtures/config/certs/client.key".into()),
                        at: position(75, 7, "upstreams.static.tls"),
                    }),
                },
            ),
        ]),
        routes: vec![
            RouteConfig {
                host: Some("api.example.com".to_owned()),
                path_prefix: "/v1/".to_owned(),
                methods: Some(vec!["GET".to_owned(), "POST".to_owned()]),
                upstream: "app".to_owned(),
                allow_upgrade: vec!["websocket".to_owned()],
                name: "routes[0]".to_owned(),
                plugins: vec![],
            },
            RouteConfig {
                host: Some("*.example.com".to_owned()),
                path_prefix: "/".to_owned(),
                methods: None,
                upstream: "static".to_owned(),
                allow_upgrade: vec![],
                name: "routes[1]".to_owned(),
                plugins: vec![],
            },
            RouteConfig {
                host: None,
                path_prefix: "/".to_owned(),
                methods: None,
                upstream: "app".to_owned(),
                allow_upgrade: vec![],
                name: "routes[2]".to_owned(),
                plugins: vec![],
            },
        ],
    };
    assert_eq!(config, expected);
}

#[test]
fn admin_on_a_public_address_needs_consent() {
    let src = MINIMAL.replace("[server]\n", "[server]\nadmin = \"0.0.0.0:9901\"\n");
    assert_eq!(
        error(&src),
        "gw.toml:3:9: `server.admin`: 0.0.0.0:9901 is not a loopback address: the admin API can reload the \
         gateway; set `admin_public = true` to serve it there anyway"
    );
    let src = MINIMAL.replace("[server]\n", "[server]\nadmin = \"127.0.0.1:8080\"\n");
    assert_eq!(error(&src), "gw.toml:3:9: `server.admin`: 127.0.0.1:8080 is also in `server.listen`");
}

fn position(line: usize, column: usize, key: &str) -> Position {
    Position { file: "tests/fixtures/config/full.toml".to_owned(), line, column, key: key.to_owned() }
}
