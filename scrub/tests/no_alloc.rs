//! `is_match` must not allocate: counted with a global allocator that tallies calls.
#![allow(unsafe_code, clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use portcullis_scrub::NameMatcher;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; counting touches only an atomic and never the memory itself.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: same layout the caller gave us, forwarded to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout (via `alloc` above).
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: `ptr`/`layout` describe a live `System` allocation, as the caller guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn matching_allocates_nothing() {
    let matcher = NameMatcher::new(&["x-internal-*", "cf-*", "cf-worker", "x-forwarded-internal", "x-debug"]).unwrap();
    let names: Vec<&[u8]> = vec![
        b"Host",
        b"User-Agent",
        b"X-Internal-Trace",
        b"CF-Worker",
        b"cf-ray",
        b"X-Forwarded-For",
        b"x-debug",
        b"Accept-Language",
        b"a-very-long-header-name-that-spans-several-words-of-eight-bytes",
    ];
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    let mut hits = 0;
    for _ in 0..1000 {
        for name in &names {
            hits += usize::from(matcher.is_match(std::hint::black_box(name)));
        }
    }
    let after = ALLOCATIONS.load(Ordering::SeqCst);
    assert_eq!(hits, 4000, "X-Internal-Trace, CF-Worker, cf-ray and x-debug, 1000 times each");
    assert_eq!(after - before, 0, "is_match allocated");
}
