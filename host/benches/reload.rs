//! What a reload costs: building the next snapshot's plugins — 10 plugins, already compiled
//! (as after any reload that did not change them), each instantiated and configured.
//! `cargo bench -p portcullis --bench reload`
#![allow(clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use portcullis::plugin::Plugins;
use portcullis::Config;
use portcullis_testkit::plugins;

fn bench(c: &mut Criterion) {
    let built = plugins::build().unwrap();
    let dir = plugins::workspace_root().join("target").join("bench-reload-plugins");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut routes = String::new();
    for i in 0..10 {
        // Ten names, one component: what differs per plugin here is its config.
        std::fs::copy(built.wasm("probe"), dir.join(format!("p{i}.wasm"))).unwrap();
        routes += &format!(
            "[[routes]]\nmatch = {{ path_prefix = \"/{i}/\" }}\nupstream = \"app\"\nplugins = [{{ name = \"p{i}\", config = {{ tag = \"{i}\" }} }}]\n"
        );
    }
    let toml = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\nplugin_dir = {dir:?}\n[upstreams.app]\nendpoints = [\"127.0.0.1:9\"]\n{routes}"
    );
    let config = Config::from_toml_str(&toml, "bench.toml").unwrap();
    Plugins::load(&config).unwrap();
    c.bench_function("reload/10_cached_plugins", |b| b.iter(|| Plugins::load(&config).unwrap()));
}

criterion_group!(benches, bench);
criterion_main!(benches);
