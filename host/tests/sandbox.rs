//! Plugins that run too long or grow too big: the call traps at its limit, the route's
//! `on_error` decides, and the gateway keeps serving everyone else.
#![allow(clippy::unwrap_used)]

mod support;

use support::{Origin, PluginDir, TestGateway};

async fn gateway(dir: &PluginDir, origin: &Origin, sandbox: &str, routes: &[(&str, &str)]) -> TestGateway {
    let mut toml = format!("{sandbox}\n[upstreams.app]\nendpoints = [\"{}\"]\n", origin.addr);
    for (prefix, plugins) in routes {
        toml += &format!(
            "[[routes]]\nmatch = {{ path_prefix = \"{prefix}\" }}\nupstream = \"app\"\nplugins = [{plugins}]\n"
        );
    }
    TestGateway::with_plugins(dir, &toml).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_that_never_returns_traps_at_its_cpu_deadline() {
    let origin = Origin::echo().await;
    let dir = PluginDir::with(&["probe"]);
    let gw = gateway(
        &dir,
        &origin,
        "[sandbox.plugins.probe]\ncpu_deadline = \"20ms\"",
        &[
            ("/closed", r#"{ name = "probe", config = { forever = true } }"#),
            ("/open", r#"{ name = "probe", on_error = "fail-open", config = { forever = true } }"#),
            ("/spin", r#"{ name = "probe", config = { spin_ms = 2 } }"#),
            ("/", r#"{ name = "probe", config = { tag = "light" } }"#),
        ],
    )
    .await;

    for _ in 0..3 {
        assert_eq!(gw.get("/closed").await.status, 500);
        assert_eq!(gw.get("/open").await.echo()["target"], "/open", "fail-open skips the stuck plugin");
        assert_eq!(gw.get("/spin").await.status, 200, "work under the deadline completes");
        assert_eq!(gw.get("/").await.echoed_header("x-chain"), ["light"]);
    }
}

#[tokio::test]
async fn memory_growth_past_the_cap_fails_inside_the_guest() {
    let origin = Origin::echo().await;
    let dir = PluginDir::with(&["probe"]);
    let routes = [
        ("/big", r#"{ name = "probe", config = { hog_mib = 40 } }"#),
        ("/small", r#"{ name = "probe", config = { hog_mib = 4 } }"#),
    ];
    let capped = gateway(&dir, &origin, "[sandbox]\nmemory = \"32MiB\"", &routes).await;
    assert_eq!(capped.get("/big").await.status, 500, "the allocation fails, the plugin aborts");
    assert_eq!(capped.get("/small").await.echoed_header("x-hog"), [(4usize << 20).to_string()]);
    assert_eq!(capped.get("/big").await.status, 500, "and again on a fresh instance");

    let roomy = gateway(&dir, &origin, "[sandbox.plugins.probe]\nmemory = \"128MiB\"", &routes).await;
    assert_eq!(roomy.get("/big").await.echoed_header("x-hog"), [(40usize << 20).to_string()]);
}

#[tokio::test]
async fn sandbox_overrides_must_name_a_plugin_and_sane_limits() {
    let dir = PluginDir::with(&["probe"]);
    let start = |sandbox: &str| {
        let toml = format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n{}{sandbox}\n[upstreams.app]\nendpoints = [\"127.0.0.1:9\"]\n[[routes]]\nupstream = \"app\"\n",
            dir.server_keys()
        );
        async move {
            match portcullis::Config::from_toml_str(&toml, "gw.toml") {
                Err(err) => err.to_string(),
                Ok(config) => match portcullis::Gateway::start(config).await {
                    Ok(_) => "started".to_owned(),
                    Err(err) => format!("{err:#}"),
                },
            }
        }
    };
    let err = start("[sandbox.plugins.probe]\ncpu_deadline = \"0ms\"").await;
    assert_eq!(err, "gw.toml:5:1: `sandbox.plugins.probe.cpu_deadline`: must be at least 1ms");
    let err = start("[sandbox.plugins.prob]\nmemory = \"8MiB\"").await;
    assert!(err.starts_with("gw.toml:5:1: `sandbox.plugins.prob`: unknown plugin `prob`"), "{err}");
    assert_eq!(start("[sandbox]\ncpu_deadline = \"50ms\"").await, "started");
}
