//! The chunked decoder on arbitrary bytes: never panic, and the same answer however the
//! input is split (data, trailers, or the point of failure).
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use portcullis::http1::chunked::{Chunk, ChunkedDecoder};

fn run(input: &[u8], step: usize, max: usize) -> Result<Option<(Vec<u8>, String)>, String> {
    let mut dec = ChunkedDecoder::new(512);
    let mut buf = BytesMut::new();
    let mut body = Vec::new();
    for piece in input.chunks(step.max(1)) {
        buf.extend_from_slice(piece);
        while let Some(chunk) = dec.decode(&mut buf, max).map_err(|e| e.to_string())? {
            match chunk {
                Chunk::Data(d) => body.extend_from_slice(&d),
                Chunk::End(trailers) => return Ok(Some((body, format!("{trailers:?}")))),
            }
        }
    }
    Ok(None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&knobs, input)) = data.split_first() else { return };
    let whole = run(input, input.len(), 1 << 20);
    let split = run(input, usize::from(knobs & 15) + 1, usize::from(knobs >> 4) + 1);
    match (&whole, &split) {
        (Ok(Some(_)), _) | (_, Ok(Some(_))) => assert_eq!(whole, split),
        _ => {}
    }
});
