//! Decides, for every header of every request, whether its name is internal.
//!
//! Clients must never be able to send internal headers (`x-internal-*`, a CDN's own
//! `cf-*`-like fields) to an origin or to a plugin, so the gateway removes them from every
//! request head before anything else looks at it. That makes this matcher one of the
//! hottest functions of the proxy: ~20 lookups per request, nearly all of them misses.
//!
//! [`NameMatcher`] is built once from exact names and `prefix*` patterns, ASCII
//! case-insensitively, and answers without allocating:
//!
//! 1. a **gate** — one bit per (length, case-folded first byte) — rejects most names with a
//!    single load;
//! 2. **exact names** live in an open-addressing table keyed by a hash of the case-folded
//!    first and last 8-byte words; a 64-bit tag makes a second comparison rare;
//! 3. **prefixes** are grouped by first byte and compared as masked 8-byte words.
//!
//! Case folding works on whole words (SWAR): 8 bytes are lowercased in a handful of
//! integer operations, exactly (only `A`–`Z` change).

mod fold;
mod matcher;
mod pattern;

pub use matcher::NameMatcher;
pub use pattern::{Pattern, PatternError};
