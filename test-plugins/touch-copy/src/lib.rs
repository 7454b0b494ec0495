//! `touch`, written for the copy-all design: the same work (read two headers, set one) on a
//! copy of the whole header list.

#[cfg(target_arch = "wasm32")]
// The generated export glue is `unsafe extern "C"` code; nothing here is hand-written unsafe.
#[allow(unsafe_code)]
mod component {
    wit_bindgen::generate!({ world: "copy", path: "wit" });

    struct Copy;

    impl Guest for Copy {
        fn on_request(headers: Vec<(String, Vec<u8>)>, read: Vec<String>, set: String) -> Vec<(String, Vec<u8>)> {
            let seen: usize = read
                .iter()
                .map(|name| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map_or(0, |(_, v)| v.len()))
                .sum();
            vec![(set, seen.to_string().into_bytes())]
        }
    }

    export!(Copy);
}
