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
