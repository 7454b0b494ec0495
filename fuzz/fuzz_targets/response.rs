//! Response heads from arbitrary bytes: never panic, status always 100..=999, and framing
//! is decided without panicking for every status and method.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use portcullis::http1::framing::response_body;
use portcullis::http1::response;

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    if let Ok(Some(head)) = response::parse(&mut buf, 32, 4096) {
        assert!((100..=999).contains(&head.status));
        let _ = response_body(&head.headers, head.status, false);
        let _ = response_body(&head.headers, head.status, true);
    }
});
