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
