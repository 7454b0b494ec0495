//! Request-head parsing and forwarding-head rendering, per head, at 10 and 30 headers.
//! `cargo bench -p portcullis --bench head`
#![allow(clippy::unwrap_used)]

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use portcullis::http1::request::HeadLimits;
use portcullis::http1::{hop_by_hop, render, RequestParser};

#[path = "support/heads.rs"]
mod heads;
use heads::head;

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
