//! What a plugin phase costs, through the gateway's real plugin path (instance pool,
//! request moved into the store and back, host functions):
//!
//! - `bare`: a call that touches nothing (the floor),
//! - `touch`: read 2 headers and set 1 (the no-copy contract),
//! - `chain3`: three `touch` configs on one route,
//! - `touch-blocking`: `touch` called without cooperative yields (`cooperative = false`):
//!   what the fiber of a yield-capable call costs,
//! - `touch-per-request`: `touch` with `isolation = "per-request"`: a fresh instance (from
//!   the pooling allocator, copy-on-write memory) configured anew for every call,
//! - `copy`: the same job in the design portcullis avoids — every header copied into the
//!   guest per call and edits copied back (`test-plugins/touch-copy`),
//!
//! each at 10, 30 and 100 request headers.
//! `cargo bench -p portcullis --bench plugin`
#![allow(clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use portcullis::http1::{RequestHead, RequestParser};
use portcullis::plugin::{CallCtx, Plugins, Vars};
use portcullis::Config;
use portcullis_testkit::plugins;

#[path = "support/heads.rs"]
mod heads;

const TOUCH: &str = r#"{ name = "touch", config = { read = ["user-agent", "accept"], set = "x-seen" } }"#;

fn request(n: usize) -> RequestHead {
    let mut parser = RequestParser::new(portcullis::http1::request::HeadLimits::default());
    parser.parse(&mut BytesMut::from(&heads::head(n)[..])).unwrap().unwrap()
}

/// The plugins of one route, loaded exactly as the gateway loads them.
fn chain_of(built: &plugins::BuiltPlugins, plugins: &str) -> Plugins {
    chain_with(built, plugins, "")
}

fn chain_with(built: &plugins::BuiltPlugins, plugins: &str, sandbox: &str) -> Plugins {
    // A directory of its own: the test-plugin directory also holds components made to be refused.
    let dir = plugins::workspace_root().join("target").join("bench-plugins");
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["probe", "touch"] {
        std::fs::copy(built.wasm(name), dir.join(format!("{name}.wasm"))).unwrap();
    }
    let toml = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\nplugin_dir = {:?}\n[upstreams.app]\nendpoints = [\"127.0.0.1:9\"]\n\
         [[routes]]\nupstream = \"app\"\nplugins = [{plugins}]\n[sandbox]\n{sandbox}\n",
        dir
    );
    Plugins::load(&Config::from_toml_str(&toml, "bench.toml").unwrap()).unwrap()
}

fn bench(c: &mut Criterion) {
    let built = plugins::build().unwrap();
    let cases = [
        ("bare", chain_of(&built, r#"{ name = "probe" }"#)),
        ("touch", chain_of(&built, TOUCH)),
        ("touch-blocking", chain_with(&built, TOUCH, "cooperative = false")),
        ("touch-per-request", chain_with(&built, TOUCH, "isolation = \"per-request\"")),
        ("chain3", chain_of(&built, &[TOUCH, TOUCH, TOUCH].join(", "))),
        ("set1", chain_of(&built, r#"{ name = "touch", config = { read = [], set = "x-seen" } }"#)),
        ("read1set1", chain_of(&built, r#"{ name = "touch", config = { read = ["accept"], set = "x-seen" } }"#)),
    ];
    let client_ip = Bytes::from_static(b"192.0.2.1");
    let mut group = c.benchmark_group("plugin_phase");
    group.throughput(Throughput::Elements(1));
    for n in [10, 30, 100] {
        for (name, plugins) in &cases {
            let chain = plugins.chain(0).unwrap();
            let mut req = request(n);
            let mut vars = Vars::default();
            group.bench_function(BenchmarkId::new(*name, n), |b| {
                b.iter(|| {
                    let mut ctx =
                        CallCtx { route: chain.route(), req: &mut req, client_ip: &client_ip, vars: &mut vars };
                    now(chain.on_request(&mut ctx)).unwrap()
                })
            });
        }
        let mut copy = copy::CopyDesign::new(&built.wasm("touch-copy"));
        let mut req = request(n);
        group.bench_function(BenchmarkId::new("copy", n), |b| b.iter(|| copy.on_request(&mut req)));
    }
    group.finish();
}

/// Polls a phase to completion on this thread. A call yields only at an epoch tick, and then
/// is ready to go on at once.
fn now<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

/// The copy-all design on the same engine settings: the host lowers every header into the
/// guest per call and applies the edits the guest returns.
mod copy {
    use bytes::Bytes;
    use portcullis::http1::RequestHead;
    use wasmtime::component::{Component, Linker};
    use wasmtime::{Engine, Store};

    wasmtime::component::bindgen!({ world: "copy", path: "../test-plugins/touch-copy/wit" });

    pub struct CopyDesign {
        store: Store<()>,
        instance: Copy,
    }

    impl CopyDesign {
        pub fn new(wasm: &std::path::Path) -> CopyDesign {
            let mut config = wasmtime::Config::new();
            config.cranelift_opt_level(wasmtime::OptLevel::Speed);
            config.wasm_backtrace_details(wasmtime::WasmBacktraceDetails::Disable);
            let engine = Engine::new(&config).unwrap();
            let component = Component::from_file(&engine, wasm).unwrap();
            let mut linker = Linker::new(&engine);
            linker.define_unknown_imports_as_traps(&component).unwrap();
            let mut store = Store::new(&engine, ());
            let instance = Copy::instantiate(&mut store, &component, &linker).unwrap();
            CopyDesign { store, instance }
        }

        pub fn on_request(&mut self, req: &mut RequestHead) {
            let headers: Vec<(String, Vec<u8>)> =
                req.headers.iter().map(|h| (String::from_utf8_lossy(&h.name).into_owned(), h.value.to_vec())).collect();
            let read = vec!["user-agent".to_owned(), "accept".to_owned()];
            let edits = self.instance.call_on_request(&mut self.store, &headers, &read, "x-seen").unwrap();
            for (name, value) in edits {
                req.headers.replace(Bytes::from(name), Bytes::from(value));
            }
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
