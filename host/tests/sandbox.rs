//! Plugins that run too long or grow too big: the call traps at its limit, the route's
//! `on_error` decides, and the gateway keeps serving everyone else.
#![allow(clippy::unwrap_used)]

mod support;

use support::gateway::{sample, GatewayProcess};
use support::{Client, Origin, PluginDir, TestGateway};

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

/// The noisy neighbour: on a gateway with one worker thread, a request burning two seconds of
/// CPU in a plugin must not hold up a light request on another route. The order of the two
/// plugins' log lines tells: the light request's plugin runs while the spin goes on. With
/// `cooperative = false` the same setup shows what this guards against: the light request
/// waits for the end of the spin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_plugin_never_stalls_other_requests_on_its_worker() {
    let origin = Origin::echo().await;
    let dir = PluginDir::with(&["probe"]);
    for cooperative in [true, false] {
        let toml = format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\nworkers = 1\n{}\
             [sandbox]\ncooperative = {cooperative}\ncpu_deadline = \"5s\"\n\
             [upstreams.app]\nendpoints = [\"{}\"]\n\
             [[routes]]\nmatch = {{ path_prefix = \"/slow\" }}\nupstream = \"app\"\n\
             plugins = [{{ name = \"probe\", config = {{ spin_ms = 2000 }} }}]\n\
             [[routes]]\nupstream = \"app\"\nplugins = [{{ name = \"probe\", config = {{ say = \"light request\" }} }}]\n",
            dir.server_keys(),
            origin.addr
        );
        let gw = GatewayProcess::start_with_log(&toml);
        let slow = tokio::spawn(get(gw.addr, "/slow"));
        tokio::task::block_in_place(|| gw.log_line("spin start"));

        let light = get(gw.addr, "/light").await;
        assert_eq!(light.status, 200);
        let (first, _) = tokio::task::block_in_place(|| gw.first_log_line(&["light request", "spin end"]));
        if cooperative {
            assert_eq!(first, 0, "the light request ran while the slow plugin was spinning");
            assert!(!slow.is_finished(), "and was answered before the slow one");
        } else {
            assert_eq!(first, 1, "a blocking call holds its worker until the spin ends");
        }
        assert_eq!(slow.await.unwrap().status, 200, "the slow request completes within its deadline");
    }
}

/// `isolation = "per-request"`: every call starts from the component's image with its
/// config applied anew, so nothing a request leaves in guest memory reaches the next one;
/// pooled instances (the default) keep it. Limits and failures work the same in both.
#[tokio::test]
async fn per_request_isolation_gives_every_call_a_fresh_instance() {
    let origin = Origin::echo().await;
    let dir = PluginDir::with(&["probe"]);
    let routes = [
        ("/count", r#"{ name = "probe", config = { count_calls = true } }"#),
        ("/trap", r#"{ name = "probe", config = { fail_at = "on-request" } }"#),
        ("/hog", r#"{ name = "probe", config = { hog_mib = 40 } }"#),
        ("/forever", r#"{ name = "probe", on_error = "fail-open", config = { forever = true } }"#),
    ];
    let counts = |gw: TestGateway| async move {
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.extend(gw.get("/count").await.echoed_header("x-calls"));
        }
        seen
    };
    let pooled = gateway(&dir, &origin, "", &routes).await;
    assert_eq!(counts(pooled).await, ["1", "2", "3"], "one pooled instance serves the requests in turn");

    let sandbox = "[sandbox.plugins.probe]\nisolation = \"per-request\"\nmemory = \"32MiB\"\ncpu_deadline = \"20ms\"";
    let isolated = gateway(&dir, &origin, sandbox, &routes).await;
    for _ in 0..2 {
        assert_eq!(isolated.get("/trap").await.status, 500, "a trap fails the request (fail-closed)");
        assert_eq!(isolated.get("/hog").await.status, 500, "memory is capped per instance");
        assert_eq!(isolated.get("/forever").await.echo()["target"], "/forever", "the deadline holds, fail-open skips");
    }
    assert_eq!(counts(isolated).await, ["1", "1", "1"], "every call starts from the image");
}

async fn get(addr: std::net::SocketAddr, path: &str) -> support::Response {
    let mut client = Client::connect(addr).await;
    client.send(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes()).await;
    client.response().await
}

#[tokio::test]
async fn memory_growth_past_the_cap_fails_inside_the_guest() {
    let origin = Origin::echo().await;
    let dir = PluginDir::with(&["probe"]);
    let routes = [
        ("/big-open", r#"{ name = "probe", on_error = "fail-open", config = { hog_mib = 40 } }"#),
        ("/big", r#"{ name = "probe", config = { hog_mib = 40 } }"#),
        ("/small", r#"{ name = "probe", config = { hog_mib = 4 } }"#),
        ("/churn", r#"{ name = "probe", config = { churn_mib = 64 } }"#),
    ];
    let capped = gateway(&dir, &origin, "[sandbox]\nmemory = \"32MiB\"", &routes).await;
    assert_eq!(capped.get("/big").await.status, 500, "the allocation fails, the plugin aborts");
    assert_eq!(capped.get("/small").await.echoed_header("x-hog"), [(4usize << 20).to_string()]);
    assert_eq!(capped.get("/big").await.status, 500, "and again on a fresh instance");
    assert_eq!(capped.get("/big-open").await.echo()["target"], "/big-open", "fail-open skips the plugin");
    for _ in 0..3 {
        // 64 MiB through the allocator of an instance capped at 32 MiB: freed memory is
        // reused, and the pooled instance stays healthy from request to request.
        let churned = capped.get("/churn").await.echoed_header("x-churn");
        assert_eq!(churned.len(), 1);
        assert!(churned[0].parse::<usize>().unwrap() > 50_000, "{churned:?}");
    }

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
    let err = start("[sandbox.plugins.probe]\nisolation = \"per-request\"\nmemory = \"1GiB\"").await;
    assert_eq!(
        err,
        "gw.toml:5:1: `sandbox.plugins.probe.memory`: must be at most 256MiB with `isolation = \"per-request\"` (the size of its reserved slots)"
    );
    let err = start("[sandbox]\nisolation = \"per-call\"").await;
    assert!(err.starts_with("gw.toml:6:13: `sandbox.isolation`: unknown variant `per-call`"), "{err}");
    let err = start("[sandbox.plugins.prob]\nmemory = \"8MiB\"").await;
    assert!(err.starts_with("gw.toml:5:1: `sandbox.plugins.prob`: unknown plugin `prob`"), "{err}");
    assert_eq!(start("[sandbox]\ncpu_deadline = \"50ms\"").await, "started");
}

/// Judged by the wall clock, a call of a fraction of a millisecond that loses its CPU to
/// another process midway looked slow: it yielded, and the next calls of its config started
/// on the slow lane, where they starve while the workers are busy (tens of milliseconds
/// under load). Judged by its thread's CPU time it stays fast however often it is
/// descheduled, while a call that burns milliseconds still counts as slow.
#[tokio::test]
async fn a_fast_call_descheduled_midway_is_not_taken_for_a_slow_one() {
    let origin = Origin::echo().await;
    let dir = PluginDir::with(&["probe"]);
    let toml = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\nadmin = \"127.0.0.1:0\"\nworkers = 1\n{}\
         [upstreams.app]\nendpoints = [\"{}\"]\n\
         [[routes]]\nmatch = {{ path_prefix = \"/slow\" }}\nupstream = \"app\"\n\
         plugins = [{{ name = \"probe\", config = {{ spin_ms = 5 }} }}]\n\
         [[routes]]\nupstream = \"app\"\nplugins = [{{ name = \"probe\", config = {{ spin_us = 200 }} }}]\n",
        dir.server_keys(),
        origin.addr
    );
    let gw = GatewayProcess::start(&toml);
    let slow_calls = || async {
        let metrics = gw.admin("GET", "/metrics").await.text();
        sample(&metrics, r#"portcullis_plugin_slow_calls_total{plugin="probe",phase="on-request"}"#)
    };

    // The gateway shares one CPU with two processes that never sleep.
    let cpu = first_allowed_cpu();
    let pinned = std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", &cpu.to_string(), &gw.pid().to_string()])
        .output()
        .unwrap();
    assert!(pinned.status.success(), "taskset failed: {}", String::from_utf8_lossy(&pinned.stderr));
    let hogs = [Hog::on(cpu), Hog::on(cpu)];
    let mut client = gw.client().await;
    for _ in 0..300 {
        client.send(b"GET /fast HTTP/1.1\r\nHost: t\r\n\r\n").await;
        assert_eq!(client.response().await.status, 200);
    }
    assert_eq!(slow_calls().await, 0.0, "no fast call was taken for a slow one");
    // Off the hogs' CPU before the slow calls: their rest runs on the slow lane, which
    // yields to every other thread.
    drop(hogs);

    for _ in 0..2 {
        client.send(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n").await;
        assert_eq!(client.response().await.status, 200);
    }
    assert_eq!(slow_calls().await, 2.0, "each 5 ms call yielded");
}

/// The first CPU this process may run on.
fn first_allowed_cpu() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let list = status.lines().find_map(|line| line.strip_prefix("Cpus_allowed_list:")).unwrap();
    let first: String = list.trim().chars().take_while(char::is_ascii_digit).collect();
    first.parse().unwrap()
}

/// A process spinning on one CPU until dropped (killed by its PID).
struct Hog(std::process::Child);

impl Hog {
    fn on(cpu: usize) -> Hog {
        let spin = std::process::Command::new("taskset")
            .args(["-c", &cpu.to_string(), "sh", "-c", "while :; do :; done"])
            .spawn();
        Hog(spin.unwrap())
    }
}

impl Drop for Hog {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
