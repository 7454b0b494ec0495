//! What an operator sees when a plugin cannot be used: each error names the file (or the
//! config position) and what is wrong, and the gateway does not start.
#![allow(clippy::unwrap_used)]

// Only the plugin helpers of `support` are used here.
#[allow(unused_imports)]
mod support;

use portcullis::{Config, Gateway};
use support::PluginDir;

async fn start_error(dir: &PluginDir, plugins: &str) -> String {
    let toml = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n{}[upstreams.app]\nendpoints = [\"127.0.0.1:9\"]\n[[routes]]\nupstream = \"app\"\nplugins = [{plugins}]\n",
        dir.server_keys()
    );
    let config = Config::from_toml_str(&toml, "gw.toml").unwrap();
    match Gateway::start(config).await {
        Ok(_) => panic!("the gateway started"),
        Err(err) => format!("{err:#}"),
    }
}

#[tokio::test]
async fn a_garbage_file_is_named_and_refused() {
    let dir = PluginDir::with(&[]);
    let file = dir.write("junk.wasm", b"this is not wasm at all");
    let err = start_error(&dir, "").await;
    assert_eq!(err, format!("{}: not a WebAssembly file (no `\\0asm` header)", file.display()));
}

#[tokio::test]
async fn a_core_module_is_told_to_be_a_component() {
    let dir = PluginDir::with(&[]);
    let file = dir.write("core.wasm", b"\0asm\x01\0\0\0");
    let err = start_error(&dir, "").await;
    assert!(err.starts_with(&format!("{}: a core WebAssembly module, not a component", file.display())), "{err}");
}

#[tokio::test]
async fn a_truncated_component_is_refused_with_the_parser_error() {
    let dir = PluginDir::with(&[]);
    let probe = std::fs::read(support::plugins::built().wasm("probe")).unwrap();
    let file = dir.write("cut.wasm", &probe[..probe.len() / 2]);
    let err = start_error(&dir, "").await;
    assert!(err.starts_with(&format!("{}: not a valid WebAssembly component: ", file.display())), "{err}");
}

#[tokio::test]
async fn a_component_of_another_world_is_refused() {
    let dir = PluginDir::with(&["not-a-plugin"]);
    let err = start_error(&dir, "").await;
    assert!(
        err.starts_with(&format!("{}: not a portcullis plugin: it exports greet", dir.file("not-a-plugin").display())),
        "{err}"
    );
}

#[tokio::test]
async fn a_plugin_built_for_another_contract_version_is_refused_by_version() {
    let dir = PluginDir::with(&["other-version"]);
    let err = start_error(&dir, "").await;
    let expected = format!(
        "{}: built against portcullis:gateway@0.2.0 (it imports `portcullis:gateway/host@0.2.0`), but this gateway provides portcullis:gateway@0.1.0",
        dir.file("other-version").display()
    );
    assert!(err.starts_with(&expected), "{err}");
}

#[tokio::test]
async fn a_config_the_plugin_rejects_is_reported_at_the_route() {
    let dir = PluginDir::with(&["probe", "header-rewrite"]);
    let err = start_error(&dir, r#"{ name = "probe", config = { reject = "threshold must be positive" } }"#).await;
    assert_eq!(
        err,
        "gw.toml:9:39: `routes[0].plugins[0].config`: plugin `probe` rejected its config: threshold must be positive"
    );

    let err = start_error(&dir, r#"{ name = "header-rewrite", config = { request = { sett = {} } } }"#).await;
    assert_eq!(
        err,
        "gw.toml:9:48: `routes[0].plugins[0].config`: plugin `header-rewrite` rejected its config: \
         `request.sett`: unknown field `sett`, expected one of `remove`, `rename`, `set`, `append`"
    );
}

#[tokio::test]
async fn an_unknown_plugin_name_lists_what_is_there() {
    let dir = PluginDir::with(&["probe", "header-rewrite"]);
    let err = start_error(&dir, r#"{ name = "waff" }"#).await;
    assert_eq!(
        err,
        format!(
            "gw.toml:9:21: `routes[0].plugins[0].name`: unknown plugin `waff`: no waff.wasm in {} (found: header-rewrite, probe)",
            dir.path().display()
        )
    );
    // With a config, the error still points at the name.
    let err = start_error(&dir, r#"{ name = "waff", config = { x = 1 } }"#).await;
    assert!(err.starts_with("gw.toml:9:21: `routes[0].plugins[0].name`: unknown plugin `waff`"), "{err}");
}
