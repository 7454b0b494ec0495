//! The admin listener of the binary: health and readiness, Prometheus metrics that move
//! as requests flow, the loaded plugins, and `POST /reload`.
#![allow(clippy::unwrap_used)]

// Not every helper of `support` is used here.
#[allow(unused_imports)]
mod support;

use std::net::SocketAddr;

use support::gateway::{sample, GatewayProcess};
use support::{Origin, PluginDir, Response};

async fn get(gw: &GatewayProcess, path: &str) -> Response {
    let mut client = gw.client().await;
    client.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes()).await;
    client.response().await
}

fn config(dir: &PluginDir, origin: &Origin, down: SocketAddr, tag: &str) -> String {
    format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\nadmin = \"127.0.0.1:0\"\n{}\
         [upstreams.app]\nendpoints = [\"{}\"]\n[upstreams.down]\nendpoints = [\"{down}\", \"{down}\"]\n\
         [[routes]]\nmatch = {{ path_prefix = \"/down\" }}\nupstream = \"down\"\n\
         [[routes]]\nname = \"trapping\"\nmatch = {{ path_prefix = \"/trap\" }}\nupstream = \"app\"\n\
         plugins = [{{ name = \"probe\", on_error = \"fail-open\", config = {{ fail_at = \"on-request\", tag = \"s3cr3t-key\" }} }}]\n\
         [[routes]]\nname = \"api\"\nupstream = \"app\"\nplugins = [{{ name = \"probe\", config = {{ tag = \"{tag}\" }} }}]\n",
        dir.server_keys(),
        origin.addr
    )
}

#[tokio::test]
async fn metrics_move_as_requests_flow_and_reload_is_one_post_away() {
    let origin = Origin::echo().await;
    let dir = PluginDir::with(&["probe"]);
    let down = support::origin::closed_port().await;
    let gw = GatewayProcess::start(&config(&dir, &origin, down, "before"));

    assert_eq!(gw.admin("GET", "/healthz").await.text(), "ok\n");
    assert_eq!(gw.admin("GET", "/readyz").await.status, 200);
    assert_eq!(gw.admin("GET", "/nope").await.status, 404);
    assert_eq!(gw.admin("GET", "/reload").await.status, 405);

    let api = r#"portcullis_requests_total{route="api",method="GET",status="2xx"}"#;
    let traps = r#"portcullis_plugin_failures_total{plugin="probe",phase="on-request",kind="trap",policy="fail-open"}"#;
    let calls = r#"portcullis_plugin_call_duration_seconds_count{plugin="probe",phase="on-request"}"#;
    let before = gw.admin("GET", "/metrics").await;
    assert_eq!(before.status, 200);
    assert!(before.header("content-type").unwrap().starts_with("application/openmetrics-text"));
    let before = before.text();
    assert!(before.ends_with("# EOF\n"), "{before}");

    for _ in 0..3 {
        assert_eq!(get(&gw, "/a").await.echoed_header("x-chain"), ["before"]);
    }
    assert_eq!(get(&gw, "/trap").await.status, 200, "fail-open: the trapping plugin is skipped");
    assert_eq!(get(&gw, "/down").await.status, 502, "both endpoints refuse");
    let after = gw.admin("GET", "/metrics").await.text();
    assert_eq!(sample(&after, api) - sample(&before, api), 3.0, "{after}");
    assert_eq!(sample(&after, traps) - sample(&before, traps), 1.0, "{after}");
    assert_eq!(sample(&after, calls) - sample(&before, calls), 4.0, "every on-request call is timed");
    assert!(sample(&after, "portcullis_upstream_connections_new_total") >= 1.0, "{after}");
    assert!(sample(&after, "portcullis_upstream_connections_reused_total") >= 1.0, "{after}");
    assert!(sample(&after, r#"portcullis_request_duration_seconds_count{route="api"}"#) >= 3.0);
    assert_eq!(sample(&after, r#"portcullis_upstream_connect_errors_total{upstream="down"}"#), 2.0, "{after}");
    assert_eq!(sample(&after, r#"portcullis_upstream_retries_total{upstream="down",reason="connect"}"#), 1.0);
    assert_eq!(sample(&after, r#"portcullis_requests_total{route="routes[0]",method="GET",status="5xx"}"#), 1.0);
    let listener = format!(r#"portcullis_listener_connections_open{{listener="{}"}}"#, gw.addr);
    assert!(after.contains(&listener), "{after}");

    let plugins: serde_json::Value = serde_json::from_str(&gw.admin("GET", "/plugins").await.text()).unwrap();
    assert_eq!(plugins[0]["name"], "probe");
    assert_eq!(plugins[0]["sha256"].as_str().unwrap().len(), 64);
    assert!(plugins[0]["phases"].as_array().unwrap().contains(&"on-request".into()));
    assert!(plugins[0]["failures"].as_u64().unwrap() >= 1);

    // The active config, defaults applied, plugin configs redacted.
    let shown = gw.admin("GET", "/config").await.text();
    assert!(!shown.contains("s3cr3t-key"), "{shown}");
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["routes"][1]["plugins"][0]["config"], "<redacted>");
    assert_eq!(shown["routes"][1]["plugins"][0]["on_error"], "fail-open");
    assert_eq!(shown["routes"][2]["name"], "api");
    assert_eq!(shown["timeouts"]["drain"], "30s");
    assert_eq!(shown["sandbox"]["defaults"]["isolation"], "pooled");
    assert_eq!(shown["upstreams"]["app"]["endpoints"][0], origin.addr.to_string());

    // POST /reload reads the config file again; a broken file is refused with the reason.
    std::fs::write(gw.config_path(), config(&dir, &origin, down, "after")).unwrap();
    let reloaded = gw.admin("POST", "/reload").await;
    assert_eq!((reloaded.status, reloaded.text().as_str()), (200, "reloaded\n"));
    assert_eq!(get(&gw, "/a").await.echoed_header("x-chain"), ["after"]);
    std::fs::write(gw.config_path(), "[server\n").unwrap();
    let refused = gw.admin("POST", "/reload").await;
    assert_eq!(refused.status, 500);
    assert!(refused.text().contains("invalid table header"), "{}", refused.text());
    assert_eq!(get(&gw, "/a").await.echoed_header("x-chain"), ["after"]);
    let metrics = gw.admin("GET", "/metrics").await.text();
    assert!(sample(&metrics, r#"portcullis_reloads_total{outcome="ok"}"#) >= 1.0, "{metrics}");
    assert!(sample(&metrics, r#"portcullis_reloads_total{outcome="failed"}"#) >= 1.0, "{metrics}");
}
