//! The plugin chain through the running gateway, with components compiled from this
//! repository (`plugins/` and `test-plugins/`): order, short-circuits, every phase, failure
//! policies, per-route configs, and the operator's errors for unusable plugins.
#![allow(clippy::unwrap_used)]

mod support;

use support::origin::closed_port;
use support::{Origin, PluginDir, TestGateway};

/// One upstream `app` at `origin` and the given routes (TOML `[[routes]]` blocks).
fn config(origin: std::net::SocketAddr, routes: &str) -> String {
    format!("[upstreams.app]\nendpoints = [\"{origin}\"]\n{routes}")
}

fn route(prefix: &str, plugins: &str) -> String {
    format!("[[routes]]\nmatch = {{ path_prefix = \"{prefix}\" }}\nupstream = \"app\"\nplugins = [{plugins}]\n")
}

// === chains ===

#[tokio::test]
async fn plugins_run_in_chain_order_on_request_and_response() {
    let origin = Origin::echo().await;
    let dir = PluginDir::with(&["probe"]);
    let plugins = r#"{ name = "probe", config = { tag = "a" } }, { name = "probe", config = { tag = "b" } },
                     { name = "probe", config = { tag = "c" } }"#;
    let gw = TestGateway::with_plugins(&dir, &config(origin.addr, &route("/", plugins))).await;

    let resp = gw.get("/").await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.echoed_header("x-chain"), ["a", "b", "c"], "request side, in chain order");
    assert_eq!(resp.header_all("x-chain"), ["a", "b", "c"], "response side, in chain order");
}

#[tokio::test]
async fn an_early_reply_skips_the_rest_of_the_chain_and_the_origin() {
    let origin = Origin::echo().await;
    let dir = PluginDir::with(&["probe"]);
    let plugins = r#"{ name = "probe", config = { tag = "a" } }, { name = "probe", config = { tag = "b", reply = 418 } },
                     { name = "probe", config = { tag = "c", reply = 500 } }"#;
    let gw = TestGateway::with_plugins(&dir, &config(origin.addr, &route("/", plugins))).await;

    let mut client = gw.client().await;
    for _ in 0..3 {
        client.send(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n").await;
        let resp = client.response().await;
        assert_eq!(resp.status, 418);
        assert_eq!(resp.text(), "probe b\n");
        assert_eq!(resp.header("content-length"), Some("8"));
        assert_eq!(resp.header("x-chain"), None, "on-response does not run on a plugin's reply");
    }
    assert_eq!(origin.accepted(), 0, "the origin never saw a request");

    client.head_request = true;
    client.send(b"HEAD / HTTP/1.1\r\nHost: test\r\n\r\n").await;
    let resp = client.response().await;
    assert_eq!((resp.status, resp.body.len()), (418, 0), "a HEAD reply has no body");
}

#[tokio::test]
async fn the_same_plugin_behaves_per_route_config() {
    let origin = Origin::echo().await;
    let dir = PluginDir::with(&["probe"]);
    let routes = route("/a", r#"{ name = "probe", config = { tag = "A" } }"#)
        + &route("/b", r#"{ name = "probe", config = { tag = "B", reply = 403 } }"#)
        + &route("/", "");
    let gw = TestGateway::with_plugins(&dir, &config(origin.addr, &routes)).await;

    assert_eq!(gw.get("/a").await.echoed_header("x-chain"), ["A"]);
    assert_eq!(gw.get("/b").await.status, 403);
    assert_eq!(gw.get("/c").await.echoed_header("x-chain"), Vec::<String>::new(), "a route without plugins");
}

#[tokio::test]
async fn variables_set_by_one_plugin_are_seen_by_the_next() {
    let origin = Origin::echo().await;
    let dir = PluginDir::with(&["probe"]);
    let plugins = r#"{ name = "probe", config = { set_vars = { consumer = "alice" } } },
                     { name = "probe", config = { echo_var = "consumer" } }"#;
    let gw = TestGateway::with_plugins(&dir, &config(origin.addr, &route("/", plugins))).await;

    assert_eq!(gw.get("/").await.echoed_header("x-var-consumer"), ["alice"]);
    // Variables belong to one request: a chain that only reads sees nothing.
    let dir2 = PluginDir::with(&["probe"]);
    let reader = route("/", r#"{ name = "probe", config = { echo_var = "consumer" } }"#);
    let gw2 = TestGateway::with_plugins(&dir2, &config(origin.addr, &reader)).await;
    assert_eq!(gw2.get("/").await.echoed_header("x-var-consumer"), ["(unset)"]);
}

// === select-upstream and on-upstream-request ===

#[tokio::test]
async fn select_upstream_picks_a_configured_upstream_or_fails_with_500() {
    let main = Origin::echo().await;
    let other = Origin::echo().await;
    let dir = PluginDir::with(&["probe"]);
    let toml = format!(
        "[upstreams.other]\nendpoints = [\"{}\"]\n{}{}",
        other.addr,
        route("/pick", r#"{ name = "probe", config = { select = "other" } }"#),
        route("/typo", r#"{ name = "probe", config = { select = "otter" } }"#)
    );
    let gw = TestGateway::with_plugins(&dir, &config(main.addr, &toml)).await;

    assert_eq!(gw.get("/pick").await.status, 200);
    assert_eq!((main.accepted(), other.accepted()), (0, 1));
    let resp = gw.get("/typo").await;
    assert_eq!(resp.status, 500, "an unknown upstream name is the plugin's error, not the client's");
    assert_eq!((main.accepted(), other.accepted()), (0, 1));
}

#[tokio::test]
async fn on_upstream_request_runs_per_attempt_starting_fresh_each_time() {
    let origin = Origin::echo().await;
    let dead = closed_port().await;
    let dir = PluginDir::with(&["probe"]);
    // Round-robin from the first endpoint: attempt 1 hits the closed port, attempt 2 the origin.
    let toml = format!(
        "[upstreams.app]\nendpoints = [\"{dead}\", \"{}\"]\nmax_attempts = 2\n{}",
        origin.addr,
        route("/", r#"{ name = "probe", config = { mark_attempts = true } }"#)
    );
    let gw = TestGateway::with_plugins(&dir, &toml).await;

    let resp = gw.get("/").await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.echoed_header("x-attempt"), ["app#2"]);
    assert_eq!(resp.echoed_header("x-attempts"), ["2"], "attempt 1's edits must not carry over");
}

// === on-response and on-log ===

#[tokio::test]
async fn on_response_can_change_the_status_or_replace_the_response() {
    let origin = Origin::echo().await;
    let dir = PluginDir::with(&["probe"]);
    let routes = route("/status", r#"{ name = "probe", config = { set_status = 299 } }"#)
        + &route("/replace", r#"{ name = "probe", config = { response_reply = 451 } }"#);
    let gw = TestGateway::with_plugins(&dir, &config(origin.addr, &routes)).await;

    let resp = gw.get("/status").await;
    assert_eq!(resp.status, 299);
    assert_eq!(resp.echo()["target"], "/status", "the origin's body still flows");

    let mut client = gw.client().await;
    for _ in 0..2 {
        client.send(b"GET /replace HTTP/1.1\r\nHost: test\r\n\r\n").await;
        let resp = client.response().await;
        assert_eq!((resp.status, resp.text().as_str()), (451, "replaced by probe\n"));
    }
}

#[tokio::test]
async fn on_log_runs_after_each_response() {
    let origin = Origin::echo().await;
    let dir = PluginDir::with(&["probe"]);
    let gw = TestGateway::with_plugins(
        &dir,
        &config(origin.addr, &route("/", r#"{ name = "probe", config = { count_logs = true } }"#)),
    )
    .await;

    // One connection: each request starts after the previous one's on-log finished.
    let mut client = gw.client().await;
    for expected in 0..4 {
        client.send(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n").await;
        assert_eq!(client.response().await.echoed_header("x-logged"), [expected.to_string()]);
    }
}

// === failures ===

#[tokio::test]
async fn a_trapping_plugin_fails_closed_with_500_or_is_skipped_when_fail_open() {
    let origin = Origin::echo().await;
    let never = Origin::recording().await;
    let dir = PluginDir::with(&["probe"]);
    let closed = r#"{ name = "probe", on_error = "fail-closed", config = { fail_at = "on-request" } }, { name = "probe", config = { tag = "after" } }"#;
    let routes = format!(
        "[upstreams.never]\nendpoints = [\"{}\"]\n[[routes]]\nmatch = {{ path_prefix = \"/closed\" }}\nupstream = \"never\"\nplugins = [{closed}]\n",
        never.addr
    ) + &route(
        "/open",
        r#"{ name = "probe", on_error = "fail-open", config = { fail_at = "on-request" } }, { name = "probe", config = { tag = "after" } }"#,
    ) + &route("/response", r#"{ name = "probe", config = { fail_at = "on-response" } }"#)
        + &route("/", r#"{ name = "probe", config = { tag = "healthy" } }"#);
    let gw = TestGateway::with_plugins(&dir, &config(origin.addr, &routes)).await;

    for _ in 0..3 {
        let closed = gw.get("/closed").await;
        assert_eq!(closed.status, 500);
        assert!(closed.text().contains("could not process"), "{}", closed.text());
        let open = gw.get("/open").await;
        assert_eq!(open.status, 200);
        assert_eq!(open.echoed_header("x-chain"), ["after"], "the failed plugin was skipped, the next one ran");
        assert_eq!(gw.get("/response").await.status, 500);
        // A fresh instance replaces each broken one: other requests never notice.
        assert_eq!(gw.get("/").await.echoed_header("x-chain"), ["healthy"]);
    }
    assert_eq!(never.accepted(), 0, "fail-closed in on-request never reaches the origin");
}

#[tokio::test]
async fn breaking_the_contract_traps_instead_of_smuggling() {
    let origin = Origin::recording().await;
    let dir = PluginDir::with(&["probe"]);
    let plugins = r#"{ name = "probe", config = { fail_at = "on-request", fail_by = "framing" } }"#;
    let gw = TestGateway::with_plugins(&dir, &config(origin.addr, &route("/", plugins))).await;

    assert_eq!(gw.get("/").await.status, 500, "setting content-length traps the plugin");
    assert_eq!(origin.accepted(), 0);
}

#[tokio::test]
async fn a_plugin_failing_in_on_log_does_not_affect_the_response() {
    let origin = Origin::echo().await;
    let dir = PluginDir::with(&["probe"]);
    let gw = TestGateway::with_plugins(
        &dir,
        &config(origin.addr, &route("/", r#"{ name = "probe", config = { fail_at = "on-log" } }"#)),
    )
    .await;
    let mut client = gw.client().await;
    for _ in 0..2 {
        client.send(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n").await;
        assert_eq!(client.response().await.status, 200);
    }
}

// === what a plugin may and may not do to a message ===

#[tokio::test]
async fn a_plugin_may_set_a_valid_host_but_never_add_a_second_one() {
    let origin = Origin::echo().await;
    let dir = PluginDir::with(&["probe"]);
    let routes = route("/set", r#"{ name = "probe", config = { set_headers = { host = "backend.internal:8080" } } }"#)
        + &route("/append", r#"{ name = "probe", config = { append_headers = { host = "admin.internal" } } }"#)
        + &route("/bad", r#"{ name = "probe", config = { set_headers = { host = "a b" } } }"#);
    let gw = TestGateway::with_plugins(&dir, &config(origin.addr, &routes)).await;

    assert_eq!(gw.get("/set").await.echoed_header("host"), ["backend.internal:8080"]);
    assert_eq!(gw.get("/append").await.status, 500, "a second Host traps the plugin");
    assert_eq!(gw.get("/bad").await.status, 500, "an invalid Host traps the plugin");
}

#[tokio::test]
async fn a_bodiless_response_keeps_its_status() {
    let origin = Origin::echo().await;
    let dir = PluginDir::with(&["probe"]);
    let routes = route("/status/204", r#"{ name = "probe", on_error = "fail-open", config = { set_status = 200 } }"#)
        + &route("/status/201", r#"{ name = "probe", config = { set_status = 204 } }"#);
    let gw = TestGateway::with_plugins(&dir, &config(origin.addr, &routes)).await;

    // 204 → 200 would leave a body-capable response without framing on a kept-alive
    // connection; the call traps, and fail-open passes the origin's 204 on unchanged.
    let mut client = gw.client().await;
    for _ in 0..2 {
        client.send(b"GET /status/204 HTTP/1.1\r\nHost: test\r\n\r\n").await;
        assert_eq!(client.response().await.status, 204);
    }
    assert_eq!(gw.get("/status/201").await.status, 500, "nothing may become a 204");
}

#[tokio::test]
async fn an_unusable_reply_or_upstream_is_the_plugins_failure_under_its_policy() {
    let origin = Origin::echo().await;
    let dir = PluginDir::with(&["probe"]);
    let routes = route("/reply-closed", r#"{ name = "probe", config = { reply = 100 } }"#)
        + &route("/reply-open", r#"{ name = "probe", on_error = "fail-open", config = { reply = 100 } }"#)
        + &route("/pick-open", r#"{ name = "probe", on_error = "fail-open", config = { select = "gone" } }"#);
    let gw = TestGateway::with_plugins(&dir, &config(origin.addr, &routes)).await;

    assert_eq!(gw.get("/reply-closed").await.status, 500);
    assert_eq!(gw.get("/reply-open").await.echo()["target"], "/reply-open", "skipped, on to the origin");
    assert_eq!(gw.get("/pick-open").await.echo()["target"], "/pick-open", "the route's own upstream");
}
