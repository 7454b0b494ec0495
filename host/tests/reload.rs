//! Reloading a running gateway: a new snapshot (config, plugins, chains) swapped in whole,
//! requests in flight finishing on the old one, a broken snapshot refused while the old one
//! keeps serving — in-process under a client loop, and in the real binary on SIGHUP and on
//! a changed file.
#![allow(clippy::unwrap_used)]

// Not every helper of `support` is used here.
#[allow(unused_imports)]
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use portcullis::{Config, Gateway};
use support::gateway::GatewayProcess;
use support::{Client, Origin, PluginDir};

/// A config whose one route chains `plugins` in front of `origin`.
fn config(dir: &PluginDir, origin: &Origin, plugins: &str) -> Config {
    let toml = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n{}[upstreams.app]\nendpoints = [\"{}\"]\n[[routes]]\nupstream = \"app\"\nplugins = [{plugins}]\n",
        dir.server_keys(),
        origin.addr
    );
    Config::from_toml_str(&toml, "reload.toml").unwrap()
}

async fn chain_tags(client: &mut Client) -> Vec<String> {
    client.send(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n").await;
    let resp = client.response().await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.echoed_header("x-chain")
}

#[tokio::test]
async fn a_reload_swaps_the_chain_and_a_broken_one_keeps_the_old() {
    let origin = Origin::echo().await;
    let dir = PluginDir::with(&["probe"]);
    let gateway = Gateway::start(config(&dir, &origin, r#"{ name = "probe", config = { tag = "a" } }"#)).await.unwrap();
    let mut client = Client::connect(gateway.local_addrs()[0]).await;
    assert_eq!(chain_tags(&mut client).await, ["a"]);

    gateway.reload(config(&dir, &origin, r#"{ name = "probe", config = { tag = "b" } }"#)).await.unwrap();
    assert_eq!(chain_tags(&mut client).await, ["b"], "the next request on the same connection");

    let junk = dir.write("junk.wasm", b"not wasm");
    let err = gateway.reload(config(&dir, &origin, r#"{ name = "probe", config = { tag = "c" } }"#)).await.unwrap_err();
    assert!(format!("{err:#}").contains("junk.wasm: not a WebAssembly file"), "{err:#}");
    assert_eq!(chain_tags(&mut client).await, ["b"], "the old snapshot keeps serving");

    std::fs::remove_file(junk).unwrap();
    let err =
        gateway.reload(config(&dir, &origin, r#"{ name = "probe", config = { reject = "no" } }"#)).await.unwrap_err();
    assert!(format!("{err:#}").contains("plugin `probe` rejected its config: no"), "{err:#}");
    assert_eq!(chain_tags(&mut client).await, ["b"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_under_load_lose_no_request_and_switch_behaviour() {
    let origin = Origin::echo().await;
    let dir = PluginDir::with(&[]);
    dir.add_as("probe", "tagger");
    let tagger = |tag: &str| format!(r#"{{ name = "tagger", config = {{ tag = "{tag}" }} }}"#);
    let gateway = Arc::new(Gateway::start(config(&dir, &origin, &tagger("v1"))).await.unwrap());
    let addr = gateway.local_addrs()[0];

    // A bounded client loop: keep-alive connections of 10 requests each, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn({
        let stop = stop.clone();
        async move {
            let mut seen = Vec::new();
            let mut requests = 0;
            while !stop.load(Ordering::Relaxed) && requests < 20_000 {
                let mut client = Client::connect(addr).await;
                for _ in 0..10 {
                    seen.push(chain_tags(&mut client).await.join(","));
                    requests += 1;
                }
            }
            seen
        }
    });

    // Each step changes the plugin directory, then reloads with the given chain.
    struct Step<'a> {
        what: &'a str,
        change: Box<dyn Fn() + 'a>,
        plugins: String,
        loads: bool,
    }
    let steps = [
        Step { what: "reconfigured", change: Box::new(|| {}), plugins: tagger("v2"), loads: true },
        Step {
            what: "plugin added",
            change: Box::new(|| {
                dir.add("probe");
            }),
            plugins: format!(r#"{}, {{ name = "probe", config = {{ tag = "extra" }} }}"#, tagger("v3")),
            loads: true,
        },
        Step {
            what: "plugin replaced by another component",
            change: Box::new(|| {
                dir.add_as("header-rewrite", "tagger");
            }),
            plugins: concat!(
                r#"{ name = "tagger", config = { request = { append = { "x-chain" = "rewritten" } } } }, "#,
                r#"{ name = "probe", config = { tag = "extra" } }"#
            )
            .to_owned(),
            loads: true,
        },
        Step {
            what: "broken file dropped in",
            change: Box::new(|| {
                dir.write("broken.wasm", b"\0asm garbage");
            }),
            plugins: tagger("never"),
            loads: false,
        },
        Step {
            what: "broken file removed, plugin removed",
            change: Box::new(|| {
                std::fs::remove_file(dir.path().join("broken.wasm")).unwrap();
                std::fs::remove_file(dir.file("probe")).unwrap();
            }),
            plugins: r#"{ name = "tagger", config = { request = { append = { "x-chain" = "final" } } } }"#.to_owned(),
            loads: true,
        },
    ];
    for step in steps {
        tokio::time::sleep(Duration::from_millis(50)).await;
        (step.change)();
        let result = gateway.reload(config(&dir, &origin, &step.plugins)).await;
        assert_eq!(result.is_ok(), step.loads, "{}: {result:?}", step.what);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop.store(true, Ordering::Relaxed);
    let seen = load.await.unwrap();

    // Every request answered 200 (checked in `chain_tags`), each by one whole snapshot.
    let allowed = ["v1", "v2", "v3,extra", "rewritten,extra", "final"];
    assert!(
        seen.iter().all(|tags| allowed.contains(&tags.as_str())),
        "unexpected: {:?}",
        seen.iter().find(|t| !allowed.contains(&t.as_str()))
    );
    assert_eq!(seen.last().map(String::as_str), Some("final"));
    assert!(seen.len() >= 10, "the loop ran alongside the reloads ({} requests)", seen.len());
}

#[tokio::test]
async fn the_binary_reloads_on_sighup_and_on_a_changed_file() {
    let origin = Origin::echo().await;
    let dir = PluginDir::with(&["probe"]);
    let toml = |tag: &str| {
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n{}[upstreams.app]\nendpoints = [\"{}\"]\n[[routes]]\nupstream = \"app\"\nplugins = [{{ name = \"probe\", config = {{ tag = \"{tag}\" }} }}]\n",
            dir.server_keys(),
            origin.addr
        )
    };
    let gw = GatewayProcess::start(&toml("a"));
    let tags = || async {
        let mut client = gw.client().await;
        chain_tags(&mut client).await
    };
    assert_eq!(tags().await, ["a"]);

    // Bounded waits for the new behaviour: the watcher polls once a second.
    let until = |want: &'static str| async move {
        for _ in 0..100 {
            if tags().await == [want] {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the gateway never switched to {want}");
    };

    std::fs::write(gw.config_path(), toml("b")).unwrap();
    until("b").await;

    // A broken config is refused; the old one keeps serving.
    std::fs::write(gw.config_path(), "[server\n").unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(tags().await, ["b"]);

    // SIGHUP reloads on its own: this change keeps the file's size and modification time,
    // so the poller cannot see it.
    std::fs::write(gw.config_path(), toml("b")).unwrap();
    // Past one poll, so the watcher has taken this version as the one it has seen.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = std::fs::metadata(gw.config_path()).unwrap().modified().unwrap();
    std::fs::write(gw.config_path(), toml("c")).unwrap();
    std::fs::File::options().write(true).open(gw.config_path()).unwrap().set_modified(before).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(tags().await, ["b"], "the poller saw no change");
    let status = std::process::Command::new("kill").args(["-HUP", &gw.pid().to_string()]).status().unwrap();
    assert!(status.success());
    until("c").await;
}
