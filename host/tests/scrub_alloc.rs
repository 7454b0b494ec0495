//! Scrubbing a request head allocates nothing: the gateway's own `Scrubber` runs over parsed
//! heads while a counting allocator watches this thread.
#![allow(unsafe_code, clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::BytesMut;
use portcullis::config::ScrubConfig;
use portcullis::http1::request::HeadLimits;
use portcullis::http1::RequestParser;
use portcullis::proxy::Scrubber;
use portcullis_scrub::Pattern;

thread_local! {
    // `const` initialisation: touching it never allocates, so the allocator may use it.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

struct Counting;

// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; counting touches only a thread-local `Cell`, never the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's layout, forwarded to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this layout (via `alloc`/`realloc` above).
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: `ptr`/`layout` describe a live `System` allocation, as the caller guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn scrubbing_a_head_allocates_nothing() {
    let patterns = ["x-internal-*", "cf-*", "cf-worker", "x-forwarded-internal"];
    let scrubber = Scrubber::new(&ScrubConfig {
        request_headers: patterns.iter().map(|p| Pattern::parse(p).unwrap()).collect(),
        response_headers: Vec::new(),
    });
    let raw = b"GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\nX-Internal-User: x\r\nAccept: */*\r\n\
                CF-Ray: 1\r\nCookie: c=1\r\nX-Forwarded-Internal: 1\r\nX-Request-Id: 7\r\n\r\n";
    let mut parser = RequestParser::new(HeadLimits::default());
    let mut heads: Vec<_> = (0..100).map(|_| parser.parse(&mut BytesMut::from(&raw[..])).unwrap().unwrap()).collect();

    let before = ALLOCATIONS.with(Cell::get);
    for head in &mut heads {
        scrubber.request(&mut head.headers);
    }
    let allocated = ALLOCATIONS.with(Cell::get) - before;

    assert_eq!(allocated, 0, "scrubbing allocated");
    assert!(heads.iter().all(|h| h.headers.len() == 5), "{:?}", heads[0].headers);
}
