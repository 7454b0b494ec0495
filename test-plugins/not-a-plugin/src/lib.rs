//! A perfectly good component — of a world that is not portcullis's.

#[cfg(target_arch = "wasm32")]
// The generated export glue is `unsafe extern "C"` code; nothing here is hand-written unsafe.
#[allow(unsafe_code)]
mod component {
    wit_bindgen::generate!({ world: "greeter", path: "wit" });

    struct Greeter;

    impl Guest for Greeter {
        fn greet(name: String) -> String {
            format!("hello, {name}")
        }
    }

    export!(Greeter);
}
