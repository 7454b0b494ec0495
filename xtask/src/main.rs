//! `cargo xtask <task>`: the project's entry points, so a fresh machine needs only rustup.
//!
//! - `demo`: build in release mode and run `portcullis demo`.
//! - `test`: install what the suite needs, then run every test in the workspace.
//! - `ci`: what `.ci/run` runs: fmt check, clippy with warnings denied, then `test`.

use std::process::{exit, Command};

fn main() {
    let task = std::env::args().nth(1).unwrap_or_default();
    let result = match task.as_str() {
        "demo" => demo(),
        "test" => test(),
        "ci" => ci(),
        _ => {
            eprintln!("usage: cargo xtask <demo|test|ci>");
            exit(2);
        }
    };
    if let Err(message) = result {
        eprintln!("xtask {task}: {message}");
        exit(1);
    }
}

fn demo() -> Result<(), String> {
    cargo(&["run", "--release", "--package", "portcullis", "--", "demo"])
}

fn test() -> Result<(), String> {
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
