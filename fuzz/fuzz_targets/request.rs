//! Request heads and bodies from arbitrary bytes: never panic; the result must not depend on
//! how the bytes are split across reads; whatever is accepted must render into a head that
//! parses back to the same head (a proxy that normalises differently from what it forwards
//! can be smuggled through).
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use portcullis::http1::request::HeadLimits;
use portcullis::http1::{hop_by_hop, render, BodyDecoder, BodyEvent, RequestHead, RequestParser};

#[derive(Debug, PartialEq)]
enum Outcome {
    Error(String),
    Incomplete,
    Done(String, Vec<u8>),
}

fn describe(head: &RequestHead) -> String {
    format!("{:?} {:?} {:?} {:?} {:?} {:?}", head.method, head.target, head.version, head.host, head.body, head.headers)
}

/// Parses `input`, fed in pieces of `step` bytes (0 = all at once).
fn run(input: &[u8], step: usize) -> Outcome {
    let limits = HeadLimits { max_headers: 16, max_head_bytes: 2048, max_request_line: 512 };
    let mut parser = RequestParser::new(limits);
    let mut buf = BytesMut::new();
    let mut fed = 0;
    let mut feed = |buf: &mut BytesMut| {
        let n = if step == 0 { input.len() - fed } else { step.min(input.len() - fed) };
        buf.extend_from_slice(&input[fed..fed + n]);
        fed += n;
        n > 0
    };
    let head = loop {
        match parser.parse(&mut buf) {
            Ok(Some(head)) => break head,
            Ok(None) if !feed(&mut buf) => return Outcome::Incomplete,
            Ok(None) => {}
            Err(e) => return Outcome::Error(e.to_string()),
        }
    };
    let mut decoder = BodyDecoder::new(head.body, 1024);
    let mut body = Vec::new();
    loop {
        match decoder.next(&mut buf, 13) {
            Ok(Some(BodyEvent::Data(d))) => body.extend_from_slice(&d),
            Ok(Some(BodyEvent::End(_))) => return Outcome::Done(describe(&head), body),
            Ok(None) if !feed(&mut buf) => return Outcome::Incomplete,
            Ok(None) => {}
            Err(e) => return Outcome::Error(e.to_string()),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, input)) = data.split_first() else { return };
    let whole = run(input, 0);
    let split = run(input, usize::from(step % 16) + 1);
    // An error may surface earlier or later, but never turn into success, and successes agree.
    match (&whole, &split) {
        (Outcome::Done(..), _) | (_, Outcome::Done(..)) => assert_eq!(whole, split, "split changed the result"),
        _ => {}
    }

    let mut buf = BytesMut::from(input);
    let limits = HeadLimits { max_headers: 16, max_head_bytes: 2048, max_request_line: 512 };
    if let Ok(Some(mut head)) = RequestParser::new(limits).parse(&mut buf) {
        hop_by_hop::strip(&mut head.headers);
        head.headers.remove("content-length");
        // As `exchange` does: we always speak HTTP/1.1 upstream, which requires Host.
        if !head.headers.contains("host") {
            head.headers.append(&b"Host"[..], &b"origin.test:80"[..]);
        }
        let mut out = BytesMut::new();
        render::request(&head, head.body, &mut out);
        let mut again = RequestParser::new(HeadLimits::default())
            .parse(&mut out)
            .unwrap_or_else(|e| panic!("rendered head does not re-parse: {e}"))
            .expect("rendered head is complete");
        hop_by_hop::strip(&mut again.headers);
        again.headers.remove("content-length");
        // The re-parsed head speaks 1.1 and knows its host; everything else must be equal.
        again.version = head.version;
        if head.host.is_none() {
            again.host = None;
        }
        assert_eq!(describe(&again), describe(&head));
    }
});
