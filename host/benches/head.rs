//! Request-head parsing and forwarding-head rendering, per head, at 10 and 30 headers.
//! `cargo bench -p portcullis --bench head`
#![allow(clippy::unwrap_used)]

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use portcullis::http1::request::HeadLimits;
use portcullis::http1::{hop_by_hop, render, RequestParser};

/// A browser-shaped request head with `n` fields (the first ten are the usual suspects).
fn head(n: usize) -> Vec<u8> {
    let common = [
        "Host: www.example.com",
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "Accept-Language: en-US,en;q=0.5",
        "Accept-Encoding: gzip, deflate, br, zstd",
        "Connection: keep-alive",
        "Cookie: session=8f2c1d9e7b6a5f4e3d2c1b0a; theme=dark; consent=1",
        "Upgrade-Insecure-Requests: 1",
        "Sec-Fetch-Dest: document",
        "Sec-Fetch-Mode: navigate",
    ];
    let mut out = String::from("GET /products/42/reviews?page=2&sort=recent HTTP/1.1\r\n");
    for i in 0..n {
        match common.get(i) {
            Some(line) => out.push_str(line),
            None => out.push_str(&format!("X-Custom-Header-{i}: value-{i}-abcdefghijklmnop")),
        }
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("request_head");
    for n in [10, 30] {
        let raw = head(n);
        group.throughput(Throughput::Elements(1));
        // Baseline: httparse alone, borrowing the buffer and building nothing.
        group.bench_with_input(BenchmarkId::new("httparse_baseline", n), &raw, |b, raw| {
            b.iter(|| {
                let mut slots = [httparse::EMPTY_HEADER; 100];
                let mut req = httparse::Request::new(&mut slots);
                req.parse(criterion::black_box(raw)).unwrap().unwrap()
            })
        });
        let mut parser = RequestParser::new(HeadLimits::default());
        group.bench_with_input(BenchmarkId::new("parse", n), &raw, |b, raw| {
            b.iter_batched_ref(
                || BytesMut::from(&raw[..]),
                |buf| parser.parse(buf).unwrap().unwrap(),
                BatchSize::SmallInput,
            )
        });
        let mut out = BytesMut::with_capacity(4096);
        group.bench_with_input(BenchmarkId::new("parse+render_forward", n), &raw, |b, raw| {
            b.iter_batched_ref(
                || BytesMut::from(&raw[..]),
                |buf| {
                    let mut head = parser.parse(buf).unwrap().unwrap();
                    hop_by_hop::strip(&mut head.headers);
                    out.clear();
                    render::request(&head, head.body, &mut out);
                    out.len()
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
