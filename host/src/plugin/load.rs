//! Reading the plugin directory: every `*.wasm` is compiled (or taken from the cache) and
//! checked against the `plugin` world before anything runs, so a wrong file is reported
//! by name with what is missing or mismatched.

use std::path::{Path, PathBuf};

use wasmtime::component::{Component, Linker};

use super::bindings;
use super::engine::{runtime, sha256, Runtime, Sha256Digest};
use super::host_api::CallState;
use super::wasi;
use crate::config::Isolation;

/// The package this host implements; imports of another version are refused by name.
pub(crate) const PACKAGE: &str = "portcullis:gateway";
pub(crate) const VERSION: &str = "0.1.0";
const EXPORTS: &[&str] =
    &["configure", "phases", "on-request", "select-upstream", "on-upstream-request", "on-response", "on-log"];

/// A plugin file that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", file.display())]
pub struct PluginFileError {
    pub file: PathBuf,
    pub message: String,
}

/// A component that implements the `plugin` world, ready to instantiate.
pub(crate) struct Checked {
    pub name: String,
    pub file: PathBuf,
    pub sha256: Sha256Digest,
    pub pre: bindings::PluginPre<CallState>,
    /// The engine it was compiled for, which its instances must live in.
    pub runtime: &'static Runtime,
}

/// The `*.wasm` files of `dir`, sorted by name so loading and errors are deterministic.
pub(crate) fn plugin_files(dir: &Path) -> Result<Vec<PathBuf>, PluginFileError> {
    let unreadable = |err: std::io::Error| PluginFileError {
        file: dir.to_owned(),
        message: format!("cannot read the plugin directory (`server.plugin_dir`): {err}"),
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let path = entry.map_err(unreadable)?.path();
        if path.extension().is_some_and(|ext| ext == "wasm") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The plugin name a file stands for: its stem.
pub(crate) fn plugin_name(file: &Path) -> Result<String, PluginFileError> {
    file.file_stem()
        .and_then(|stem| stem.to_str())
        .filter(|stem| !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)))
        .map(str::to_owned)
        .ok_or_else(|| PluginFileError {
            file: file.to_owned(),
            message: "the file name must be PLUGIN-NAME.wasm with letters, digits, - _ .".into(),
        })
}

/// Compiles `file` (named `name`) for the engine of `isolation` and checks it is a plugin.
pub(crate) fn check(
    file: &Path,
    name: String,
    isolation: Isolation,
    cache_dir: Option<&Path>,
) -> Result<Checked, PluginFileError> {
    let fail = |message: String| PluginFileError { file: file.to_owned(), message };
    let wasm = std::fs::read(file).map_err(|err| fail(format!("cannot read: {err}")))?;
    let kind = wasm_kind(&wasm).map_err(fail)?;
    if kind == WasmKind::CoreModule {
        return Err(fail(
            "a core WebAssembly module, not a component: build the plugin with \
             `cargo build --target wasm32-wasip2` (see the README)"
                .into(),
        ));
    }
    let digest = sha256(&wasm);
    let rt = runtime(isolation).map_err(fail)?;
    let component = rt
        .compile(&wasm, &digest, cache_dir)
        .map_err(|err| fail(format!("not a valid WebAssembly component: {}", root_cause(&err))))?;
    let (imports, exports) = world_of(&rt.engine, &component);
    check_world(&imports, &exports).map_err(fail)?;

    let mut linker = Linker::<CallState>::new(&rt.engine);
    let linked = bindings::Plugin::add_to_linker::<_, wasmtime::component::HasSelf<CallState>>(&mut linker, |s| s)
        .and_then(|()| wasi::link(&mut linker, &component, &imports));
    let pre = linked
        .and_then(|()| linker.instantiate_pre(&component))
        .and_then(bindings::PluginPre::new)
        .map_err(|err| fail(format!("does not fit the {PACKAGE}/plugin@{VERSION} world: {}", root_cause(&err))))?;
    Ok(Checked { name, file: file.to_owned(), sha256: digest, pre, runtime: rt })
}

#[derive(PartialEq, Eq)]
enum WasmKind {
    CoreModule,
    Component,
}

fn wasm_kind(bytes: &[u8]) -> Result<WasmKind, String> {
    match bytes {
        [0, b'a', b's', b'm', _, _, 0, 0, ..] => Ok(WasmKind::CoreModule),
        [0, b'a', b's', b'm', _, _, 1, 0, ..] => Ok(WasmKind::Component),
        [0, b'a', b's', b'm', ..] => Err("a WebAssembly file of an unknown layer or version".into()),
        _ => Err("not a WebAssembly file (no `\\0asm` header)".into()),
    }
}

fn world_of(engine: &wasmtime::Engine, component: &Component) -> (Vec<String>, Vec<String>) {
    let ty = component.component_type();
    let imports = ty.imports(engine).map(|(name, _)| name.to_owned()).collect();
    let exports = ty.exports(engine).map(|(name, _)| name.to_owned()).collect();
    (imports, exports)
}

/// Explains, in the operator's terms, why a component is not a plugin for this host.
fn check_world(imports: &[String], exports: &[String]) -> Result<(), String> {
    let ours = format!("{PACKAGE}@{VERSION}");
    for import in imports {
        // Plain names (`request`, `decision`) are the world's own `use`d types.
        if !import.contains(':') {
            continue;
        }
        if let Some(rest) = import.strip_prefix(PACKAGE) {
            let version = rest.rsplit_once('@').map_or("(none)", |(_, v)| v);
            if version != VERSION {
                return Err(format!(
                    "built against {PACKAGE}@{version} (it imports `{import}`), but this gateway provides {ours}; \
                     rebuild the plugin with a matching portcullis-sdk"
                ));
            }
        } else if !wasi::tolerated(import) {
            return Err(format!(
                "imports `{import}`, which plugins cannot use: the gateway provides {ours} \
                 (host, http, types) and WASI clocks and randomness"
            ));
        }
    }
    let missing: Vec<&str> = EXPORTS.iter().copied().filter(|e| !exports.iter().any(|x| x == e)).collect();
    if missing.len() == EXPORTS.len() {
        let found = if exports.is_empty() { "nothing".to_owned() } else { exports.join(", ") };
        return Err(format!(
            "not a portcullis plugin: it exports {found}, not the world {PACKAGE}/plugin@{VERSION} \
             ({}); write plugins with portcullis-sdk",
            EXPORTS.join(", ")
        ));
    }
    if !missing.is_empty() {
        return Err(format!(
            "incomplete {PACKAGE}/plugin@{VERSION} world: missing export{} {}",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", ")
        ));
    }
    Ok(())
}

/// wasmtime errors nest context; the innermost message is the one that explains.
fn root_cause(err: &wasmtime::Error) -> String {
    let chain: Vec<String> = err.chain().map(ToString::to_string).collect();
    chain.join(": ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn explains_each_mismatch() {
        let all = names(EXPORTS);
        let ok = names(&["portcullis:gateway/host@0.1.0", "wasi:cli/environment@0.2.6"]);
        assert_eq!(check_world(&ok, &all), Ok(()));

        let other_version = names(&["portcullis:gateway/host@0.2.0"]);
        let err = check_world(&other_version, &all).unwrap_err();
        assert!(err.starts_with("built against portcullis:gateway@0.2.0"), "{err}");

        let sockets = names(&["wasi:sockets/tcp@0.2.6"]);
        assert!(check_world(&sockets, &all).unwrap_err().contains("imports `wasi:sockets/tcp@0.2.6`"));

        let err = check_world(&[], &names(&["run"])).unwrap_err();
        assert!(err.starts_with("not a portcullis plugin: it exports run"), "{err}");

        let err = check_world(&[], &names(&["configure", "phases"])).unwrap_err();
        assert!(err.contains("missing exports on-request, select-upstream"), "{err}");
    }

    #[test]
    fn tells_modules_from_components() {
        assert!(wasm_kind(b"\0asm\x01\0\0\0").is_ok_and(|k| k == WasmKind::CoreModule));
        assert!(wasm_kind(b"\0asm\x0d\0\x01\0").is_ok_and(|k| k == WasmKind::Component));
        assert!(wasm_kind(b"garbage!").is_err());
    }
}
