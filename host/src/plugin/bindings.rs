//! The host side of `wit/portcullis.wit`, generated. Private: the rest of the host sees the
//! few types re-exported by `plugin`.

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit",
    with: {
        "portcullis:gateway/http.request": super::host_api::RequestHandle,
        "portcullis:gateway/http.response": super::host_api::ResponseHandle,
    },
    // A guest that breaks the rules (sets `content-length`, sends a bad header name)
    // traps instead of getting an error value it could ignore.
    imports: { default: trappable },
});

/// The same exports called asynchronously: the call runs on a fiber that gives its worker
/// thread back at every epoch tick. The imports (host functions stay synchronous) and all
/// types are the ones above.
pub(crate) mod yielding {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../wit",
        with: {
            "portcullis:gateway/types": super::portcullis::gateway::types,
            "portcullis:gateway/http": super::portcullis::gateway::http,
            "portcullis:gateway/host": super::portcullis::gateway::host,
        },
        exports: { default: async },
    });
}
