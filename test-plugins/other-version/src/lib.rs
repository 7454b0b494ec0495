//! A plugin built against `portcullis:gateway@0.2.0`.

#[cfg(target_arch = "wasm32")]
// The generated export glue is `unsafe extern "C"` code; nothing here is hand-written unsafe.
#[allow(unsafe_code)]
mod component {
    wit_bindgen::generate!({ world: "plugin", path: "wit" });

    struct Plugin;

    impl Guest for Plugin {
        fn configure(_config_json: String) -> Result<u32, String> {
            portcullis::gateway::host::log("configured");
            Ok(0)
        }
    }

    export!(Plugin);
}
