//! Internal-header scrubbing: ns per request for every contender on the same inputs.
//! `cargo bench -p portcullis-scrub --bench scrub`
//!
//! Every contender answers the same question — is this header name internal, ignoring
//! ASCII case? — for every header of every request. Contenders that need lowercase keys
//! (the hash sets and trie-hard) lowercase each name into a stack buffer first, since the
//! gateway receives names in whatever case the client sent. trie-hard is also measured on
//! pre-lowercased input, its best case, so its ratio is shown both ways.
#![allow(clippy::unwrap_used)]

mod contenders;
mod workloads;

use criterion::measurement::WallTime;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};

use contenders::{Contender, FoldHashSet, LowercaseInput, Naive, Ours, RegexSetMatcher, StdHashSet, TrieHardMatcher};
use workloads::{Request, Workload};

/// Statically dispatched, so no contender pays for a virtual call per header.
fn scrub_all<C: Contender>(contender: &C, requests: &[Request]) -> usize {
    let mut internal = 0;
    for request in requests {
        for name in request.names() {
            internal += usize::from(contender.is_internal(black_box(name)));
        }
    }
    internal
}

fn run<C: Contender>(group: &mut BenchmarkGroup<'_, WallTime>, contender: C, requests: &[Request], expected: usize) {
    // Every contender must agree with the reference count before it is timed.
    assert_eq!(scrub_all(&contender, requests), expected, "{} disagrees", contender.name());
    group.bench_function(contender.name(), |b| b.iter(|| scrub_all(&contender, requests)));
}

fn bench(c: &mut Criterion) {
    for w in [Workload::realistic(), Workload::with_prefixes(), Workload::near_misses()] {
        let expected = scrub_all(&Naive::new(&w.patterns), &w.requests);
        let lowered = w.lowercased_requests();
        let mut group = c.benchmark_group(format!("scrub/{}", w.name));
        group.throughput(Throughput::Elements(w.requests.len() as u64));
        run(&mut group, Naive::new(&w.patterns), &w.requests, expected);
        run(&mut group, StdHashSet::new(&w.patterns), &w.requests, expected);
        run(&mut group, FoldHashSet::new(&w.patterns), &w.requests, expected);
        run(&mut group, RegexSetMatcher::new(&w.patterns), &w.requests, expected);
        run(&mut group, TrieHardMatcher::new(&w.patterns), &w.requests, expected);
        run(&mut group, Ours::new(&w.patterns), &w.requests, expected);
        run(&mut group, LowercaseInput(TrieHardMatcher::new(&w.patterns)), &lowered, expected);
        run(&mut group, LowercaseInput(Ours::new(&w.patterns)), &lowered, expected);
        group.finish();
        eprintln!(
            "workload {}: {} patterns, {} requests, {:.1} headers/request, {} internal",
            w.name,
            w.patterns.len(),
            w.requests.len(),
            w.requests.iter().map(Request::len).sum::<usize>() as f64 / w.requests.len() as f64,
            expected
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
