//! Property tests for the HTTP/1.1 codec with a deterministic generator (no external
//! fuzzer needed in CI): parsing must not depend on how bytes are split across reads, must
//! never panic on mutated input, and whatever it accepts must re-render to an equivalent head.
#![allow(clippy::unwrap_used)]

use bytes::BytesMut;
use portcullis::http1::request::HeadLimits;
use portcullis::http1::{hop_by_hop, render, response, BodyDecoder, BodyEvent, RequestHead, RequestParser};
use portcullis_testkit::Rng;

const NAMES: &[&str] = &["Accept", "X-Trace", "Cookie", "user-agent", "X-A", "Cache-Control", "x-internal-id"];
const VALUES: &[&str] = &["1", "text/html, */*;q=0.8", "a=b; c=d", "", "Mozilla/5.0 (X11)", "\u{e9}t\u{e9}"];

/// A valid request with a random head and a Content-Length or chunked body.
fn valid_request(rng: &mut Rng) -> (Vec<u8>, Vec<u8>) {
    let method = rng.pick(&["GET", "POST", "PUT", "DELETE", "PATCH"]);
    let mut raw =
        format!("{method} /p/{}?q={} HTTP/1.1\r\nHost: h{}.example\r\n", rng.below(1000), rng.next_u64(), rng.below(9));
    for _ in 0..rng.below(20) {
        raw.push_str(&format!("{}: {}\r\n", rng.pick(NAMES), rng.pick(VALUES)));
    }
    let body: Vec<u8> = (0..rng.below(300)).map(|_| b'a' + rng.below(26) as u8).collect();
    let mut raw = raw.into_bytes();
    if rng.below(2) == 0 {
        raw.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        raw.extend_from_slice(&body);
    } else {
        raw.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
        let mut rest = &body[..];
        while !rest.is_empty() {
            let n = 1 + rng.below(rest.len());
            raw.extend_from_slice(format!("{n:x}\r\n").as_bytes());
            raw.extend_from_slice(&rest[..n]);
            raw.extend_from_slice(b"\r\n");
            rest = &rest[n..];
        }
        raw.extend_from_slice(b"0\r\n\r\n");
    }
    (raw, body)
}

/// Feeds `input` in pieces cut at random points; returns the head, the body and the bytes left.
fn parse_in_pieces(input: &[u8], rng: &mut Rng) -> Result<Option<(RequestHead, Vec<u8>)>, String> {
    let mut parser = RequestParser::new(HeadLimits::default());
    let mut buf = BytesMut::new();
    let mut fed = 0;
    let mut feed = |buf: &mut BytesMut, rng: &mut Rng| -> bool {
        if fed == input.len() {
            return false;
        }
        let n = 1 + rng.below((input.len() - fed).min(40));
        buf.extend_from_slice(&input[fed..fed + n]);
        fed += n;
        true
    };
    let head = loop {
        match parser.parse(&mut buf).map_err(|e| e.to_string())? {
            Some(head) => break head,
            None if !feed(&mut buf, rng) => return Ok(None),
            None => {}
        }
    };
    let mut decoder = BodyDecoder::new(head.body, 4096);
    let mut body = Vec::new();
    loop {
        match decoder.next(&mut buf, 7).map_err(|e| e.to_string())? {
            Some(BodyEvent::Data(d)) => body.extend_from_slice(&d),
            Some(BodyEvent::End(_)) => return Ok(Some((head, body))),
            None if !feed(&mut buf, rng) => return Ok(None),
            None => {}
        }
    }
}

#[test]
fn parsing_does_not_depend_on_read_boundaries() {
    for seed in 1..=400u64 {
        let mut rng = Rng(seed);
        let (raw, body) = valid_request(&mut rng);
        let (head, got) = parse_in_pieces(&raw, &mut rng).unwrap().unwrap_or_else(|| panic!("seed {seed}: incomplete"));
        assert_eq!(got, body, "seed {seed}");
        let (whole, _) = parse_in_pieces(&raw, &mut Rng(seed ^ 0xdead)).unwrap().unwrap();
        assert_eq!(format!("{:?}", head.headers), format!("{:?}", whole.headers), "seed {seed}");
    }
}

#[test]
fn mutated_input_never_panics_and_accepted_heads_round_trip() {
    const NOISE: &[u8] = b"\r\n\0 \t:;,\x0b\x7f\xff0aZ";
    let mut accepted = 0;
    for seed in 1..=3000u64 {
        let mut rng = Rng(seed);
        let (mut raw, _) = valid_request(&mut rng);
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(raw.len());
            match rng.below(3) {
                0 => raw[at] = *rng.pick(NOISE),
                1 => raw.insert(at, *rng.pick(NOISE)),
                _ => {
                    raw.remove(at);
                }
            }
        }
        let Ok(Some((head, _))) = parse_in_pieces(&raw, &mut rng) else { continue };
        accepted += 1;
        // Whatever we accept, we must render into something that parses back to the same
        // head: a gateway that normalises differently from what it forwards can be smuggled through.
        // As on the real path: framing fields are dropped and rendered anew.
        let mut head = head;
        hop_by_hop::strip(&mut head.headers);
        head.headers.remove("content-length");
        let mut out = BytesMut::new();
        render::request(&head, head.body, &mut out);
        let mut again = RequestParser::new(HeadLimits::default())
            .parse(&mut out)
            .unwrap_or_else(|e| panic!("seed {seed}: rendered head does not re-parse: {e}"))
            .unwrap();
        hop_by_hop::strip(&mut again.headers);
        again.headers.remove("content-length");
        assert_eq!(again.method, head.method, "seed {seed}");
        assert_eq!(again.target, head.target, "seed {seed}");
        assert_eq!(again.body, head.body, "seed {seed}");
        assert_eq!(format!("{:?}", again.headers), format!("{:?}", head.headers), "seed {seed}");
    }
    assert!(accepted > 100, "the mutator should leave many inputs valid ({accepted})");
}

#[test]
fn response_parser_survives_mutation() {
    let base = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello";
    for seed in 1..=2000u64 {
        let mut rng = Rng(seed);
        let mut raw = base.to_vec();
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(raw.len());
            raw[at] = rng.next_u64() as u8;
        }
        if let Ok(Some(head)) = response::parse(&mut BytesMut::from(&raw[..]), 100, 65536) {
            assert!((100..=999).contains(&head.status), "seed {seed}");
            let _ = portcullis::http1::framing::response_body(&head.headers, head.status, false);
        }
    }
}
