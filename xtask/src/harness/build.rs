//! Building what the benches run, with cargo's own report of where the binary went, so
//! `CARGO_TARGET_DIR` and config overrides are respected.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// `cargo build <args>`, returning the path of the executable called `binary`.
pub fn cargo_build(args: &[&str], binary: &str) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(&cargo)
        .arg("build")
        .args(args)
        .arg("--message-format=json-render-diagnostics")
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if !output.status.success() {
        return Err(format!("`cargo build {}` failed ({})", args.join(" "), output.status));
    }
    // One JSON object per line; the binary's artifact names its `executable`.
    let key = "\"executable\":\"";
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.contains("\"reason\":\"compiler-artifact\""))
        .filter_map(|line| line.split_once(key).and_then(|(_, rest)| rest.split_once('"')).map(|(path, _)| path))
        .map(PathBuf::from)
        .find(|path| path.file_name().is_some_and(|name| name == binary))
        .ok_or_else(|| format!("cargo built {binary} but named no `{binary}` executable"))
}
