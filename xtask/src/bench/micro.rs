//! The crates' criterion micro-benchmarks (head parsing, one plugin phase call, header
//! scrubbing), run with `cargo bench` and read back from criterion's
//! `target/criterion/**/new/estimates.json`, so the report carries them next to the end-to-end
//! figures.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The benches collected, as `cargo bench` arguments.
const BENCHES: [(&str, &str); 3] = [("portcullis", "head"), ("portcullis", "plugin"), ("portcullis-scrub", "scrub")];

#[derive(Clone, Debug)]
pub struct Micro {
    /// criterion's id, e.g. `parse/10`.
    pub id: String,
    /// Median time per iteration, in nanoseconds.
    pub median_ns: f64,
}

/// Runs the micro-benchmarks (unless `skip`) and reads every result criterion has; `Err`
/// with the reason when there are none, which the report states instead of a table.
pub fn collect(skip: bool) -> Result<Result<Vec<Micro>, String>, String> {
    let root = criterion_dir()?;
    if !skip {
        for (package, bench) in BENCHES {
            println!("bench: micro-benchmarks: cargo bench -p {package} --bench {bench}");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = Command::new(&cargo)
                .args(["bench", "-p", package, "--bench", bench])
                .status()
                .map_err(|e| format!("cannot run {cargo}: {e}"))?;
            if !status.success() {
                return Err(format!("`cargo bench -p {package} --bench {bench}` failed ({status})"));
            }
        }
    }
    let mut found = Vec::new();
    estimates(&root, &root, &mut found);
    found.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(if found.is_empty() {
        Err(format!(
            "no criterion results in {} ({})",
            root.display(),
            if skip { "not run: --smoke or --skip-micro" } else { "cargo bench wrote none" }
        ))
    } else {
        Ok(found)
    })
}

/// `<target>/criterion`, with the target directory as cargo reports it.
fn criterion_dir() -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(&cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let target = text
        .split_once("\"target_directory\":\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(path, _)| path)
        .ok_or("cargo metadata named no target_directory")?;
    Ok(Path::new(target).join("criterion"))
}

/// Every `<id>/new/estimates.json` under `dir`.
fn estimates(root: &Path, dir: &Path, found: &mut Vec<Micro>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == "new") {
            let median = std::fs::read_to_string(path.join("estimates.json")).ok().and_then(|t| median(&t));
            let id = dir.strip_prefix(root).map(|p| p.display().to_string()).unwrap_or_default();
            if let (Some(median_ns), false) = (median, id.is_empty()) {
                found.push(Micro { id, median_ns });
            }
        } else if path.is_dir() && path.file_name().is_some_and(|n| n != "report" && n != "base" && n != "change") {
            estimates(root, &path, found);
        }
    }
}

/// `median.point_estimate` of criterion's estimates.json.
fn median(json: &str) -> Option<f64> {
    let (_, rest) = json.split_once("\"median\":")?;
    let (_, rest) = rest.split_once("\"point_estimate\":")?;
    let end = rest.find([',', '}'])?;
    rest[..end].trim().parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_median_point_estimate() {
        let json = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":2.0},"point_estimate":1.5,"standard_error":0.1},"median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":540.1,"upper_bound":560.2},"point_estimate":552.25,"standard_error":3.0}}"#;
        assert_eq!(super::median(json), Some(552.25));
        assert_eq!(super::median("{}"), None);
    }
}
