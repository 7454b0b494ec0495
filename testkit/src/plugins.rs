//! Building the repository's plugins as WebAssembly components, for the demo, the tests and
//! the benchmarks: one implementation, so all three load exactly what `cargo xtask plugins`
//! produces.
//!
//! `plugins/<name>` (real plugins) and `test-plugins/<name>` (misbehaving ones for tests)
//! are built with `--profile plugin --target wasm32-wasip2` into their own target directory
//! (`target/wasm`), so a build started from inside `cargo test` never waits on the lock of
//! the target directory the tests themselves were built in. Each component is then copied
//! to `target/<group>/<name>.wasm`, the layout a gateway's `plugin_dir` expects.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const TARGET: &str = "wasm32-wasip2";

/// Where the built components are.
#[derive(Clone, Debug)]
pub struct BuiltPlugins {
    /// `target/plugins`: one `<name>.wasm` per crate of `plugins/`.
    pub plugins: PathBuf,
    /// `target/test-plugins`: one `<name>.wasm` per crate of `test-plugins/`.
    pub test_plugins: PathBuf,
}

impl BuiltPlugins {
    /// The component of the plugin or test plugin `name`.
    pub fn wasm(&self, name: &str) -> PathBuf {
        let real = self.plugins.join(format!("{name}.wasm"));
        if real.exists() {
            real
        } else {
            self.test_plugins.join(format!("{name}.wasm"))
        }
    }
}

/// The workspace root (this crate lives in `<root>/testkit`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The plugin crates of a group directory (`plugins`, `test-plugins`), by directory name,
/// which is also the package name and the plugin's name.
pub fn crates(group: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(workspace_root().join(group))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.path().join("Cargo.toml").is_file())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

/// Builds every plugin and test plugin and copies the components into place.
pub fn build() -> Result<BuiltPlugins, String> {
    let root = workspace_root();
    let target_dir = root.join("target").join("wasm");
    let groups = ["plugins", "test-plugins"].map(|group| (group, crates(group)));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(&cargo);
    command.current_dir(&root).env("CARGO_TARGET_DIR", &target_dir).args([
        "build",
        "--profile",
        "plugin",
        "--target",
        TARGET,
    ]);
    // Flags meant for the host build (coverage, sanitizers) do not apply to wasm.
    command.env_remove("RUSTFLAGS").env_remove("CARGO_ENCODED_RUSTFLAGS");
    for (_, names) in &groups {
        for name in names {
            command.args(["--package", name]);
        }
    }
    let status = command.status().map_err(|err| format!("cannot run {cargo}: {err}"))?;
    if !status.success() {
        return Err(format!(
            "building the plugins failed ({status}); is the target installed? `rustup target add {TARGET}`"
        ));
    }
    let built = target_dir.join(TARGET).join("plugin");
    for (group, names) in &groups {
        let dest = root.join("target").join(group);
        std::fs::create_dir_all(&dest).map_err(|e| format!("{}: {e}", dest.display()))?;
        for name in names {
            let from = built.join(format!("{}.wasm", name.replace('-', "_")));
            copy_atomically(&from, &dest.join(format!("{name}.wasm")))?;
        }
    }
    Ok(BuiltPlugins { plugins: root.join("target/plugins"), test_plugins: root.join("target/test-plugins") })
}

/// Readers (a test loading the directory) see the old file or the new one, never half.
fn copy_atomically(from: &Path, to: &Path) -> Result<(), String> {
    let tmp = to.with_extension(format!("wasm.{}.tmp", std::process::id()));
    std::fs::copy(from, &tmp).map_err(|e| format!("copying {}: {e}", from.display()))?;
    std::fs::rename(&tmp, to).map_err(|e| format!("{}: {e}", to.display()))
}
