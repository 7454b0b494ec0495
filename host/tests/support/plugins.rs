//! The repository's plugins, compiled to components once per test process (a no-op build
//! when `cargo xtask test` already built them), and per-test plugin directories.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use portcullis_testkit::plugins::{self, BuiltPlugins};

pub fn built() -> &'static BuiltPlugins {
    static BUILT: OnceLock<BuiltPlugins> = OnceLock::new();
    BUILT.get_or_init(|| plugins::build().unwrap_or_else(|e| panic!("{e}")))
}

/// Compiled components shared by every test (and test process): each plugin is compiled by
/// Cranelift once, then loaded from here.
pub fn cache_dir() -> PathBuf {
    plugins::workspace_root().join("target").join("plugin-cache")
}

/// A plugin directory of its own for one test, removed on drop.
pub struct PluginDir {
    pub path: PathBuf,
}

impl PluginDir {
    /// A directory holding the named plugins (from `plugins/` or `test-plugins/`).
    pub fn with(names: &[&str]) -> PluginDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "portcullis-plugins-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&path).unwrap();
        let dir = PluginDir { path };
        for name in names {
            dir.add(name);
        }
        dir
    }

    pub fn add(&self, name: &str) -> &PluginDir {
        self.add_as(name, name)
    }

    /// Copies plugin `name` in under the file name `as_name.wasm`.
    pub fn add_as(&self, name: &str, as_name: &str) -> &PluginDir {
        let from = built().wasm(name);
        std::fs::copy(&from, self.path.join(format!("{as_name}.wasm")))
            .unwrap_or_else(|e| panic!("{}: {e}", from.display()));
        self
    }

    pub fn write(&self, file: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path.join(file);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// The `[server]` keys pointing a gateway at this directory and the shared cache.
    pub fn server_keys(&self) -> String {
        format!("plugin_dir = {:?}\nplugin_cache_dir = {:?}\n", self.path, cache_dir())
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(format!("{name}.wasm"))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PluginDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
