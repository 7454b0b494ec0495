//! `cargo xtask <task>`: the project's entry points, so a fresh machine needs only rustup.
//!
//! - `plugins`: build every plugin (and test plugin) as a wasm32-wasip2 component into
//!   `target/plugins/<name>.wasm` (and `target/test-plugins/`).
//! - `demo`: build the plugins and the gateway in release mode and run `portcullis demo`.
//! - `test`: build the plugins, then run every test in the workspace.
//! - `ci`: what `.ci/run` runs: fmt check, clippy with warnings denied, then `test`.
//! - `bench [--smoke] [--reps N] [--seconds S] [--skip-micro] [--skip-noisy] [--peers LIST]
//!   [--scenarios LIST]`: portcullis against nginx,
//!   nginx+Lua, HAProxy and Pingora, every scenario (`bench.rs`); results in `target/bench/`.
//! - `bench-h2 [--smoke] [--reps N] [--pool N]`: portcullis against nginx over TLS with h2load
//!   (`bench_h2.rs`); results in `target/bench-h2/`.

mod bench;
mod bench_h2;
mod harness;

use std::process::{exit, Command};

use portcullis_testkit::plugins::BuiltPlugins;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = args.first().cloned().unwrap_or_default();
    let result = match task.as_str() {
        "plugins" => plugins().map(|_| ()),
        "demo" => demo(),
        "test" => test(),
        "ci" => ci(),
        "bench" => bench::run(&args[1..]),
        "bench-h2" => bench_h2::run(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <plugins|demo|test|ci|bench [--smoke] [--reps N] [--seconds S] [--skip-micro] \
                 [--skip-noisy] [--peers LIST] [--scenarios LIST]|bench-h2 [--smoke] [--reps N] [--pool N]>"
            );
            exit(2);
        }
    };
    if let Err(message) = result {
        eprintln!("xtask {task}: {message}");
        exit(1);
    }
}

fn plugins() -> Result<BuiltPlugins, String> {
    let built = portcullis_testkit::plugins::build()?;
    println!("plugins: {}", built.plugins.display());
    println!("test plugins: {}", built.test_plugins.display());
    Ok(built)
}

fn demo() -> Result<(), String> {
    let built = plugins()?;
    let dir = built.plugins.display().to_string();
    cargo(&["run", "--release", "--package", "portcullis", "--", "demo", "--plugin-dir", &dir])
}

fn test() -> Result<(), String> {
    // Built here, where its output is visible; the tests find the components in place.
    plugins()?;
    cargo(&["test", "--workspace", "--all-targets"])
}

fn ci() -> Result<(), String> {
    cargo(&["fmt", "--all", "--", "--check"])?;
    cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    test()
}

fn cargo(args: &[&str]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo).args(args).status().map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed ({status})", args.join(" ")))
    }
}
