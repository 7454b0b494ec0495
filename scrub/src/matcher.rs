//! The matcher: a gate, a hash table of exact names, and prefixes grouped by first byte.

use crate::fold::{folded, low_bytes};
use crate::pattern::{Pattern, PatternError};

/// Lengths at or above this share the last gate row.
const GATE_LENGTHS: usize = 64;

/// `bits[min(len, 63)][byte]`: one bit per (length, byte), set for both cases of a letter.
/// 2 KiB each, so the gates stay in L1 across requests.
#[derive(Clone)]
struct Gate {
    bits: Box<[[u64; 4]; GATE_LENGTHS]>,
}

impl Gate {
    fn new() -> Gate {
        Gate { bits: Box::new([[0; 4]; GATE_LENGTHS]) }
    }

    /// Sets the bit for `byte` in both ASCII cases, so lookups need no case folding.
    fn set(&mut self, len: usize, byte: u8) {
        let row = &mut self.bits[len.min(GATE_LENGTHS - 1)];
        for b in [byte.to_ascii_lowercase(), byte.to_ascii_uppercase()] {
            row[usize::from(b >> 6)] |= 1 << (b & 63);
        }
    }

    #[inline(always)]
    fn get(&self, len: usize, first: u8) -> bool {
        self.bits[len.min(GATE_LENGTHS - 1)][usize::from(first >> 6)] & (1 << (first & 63)) != 0
    }
}

/// One exact name: its hash tag (never 0, which marks an empty slot) and where its folded
/// words start in `words`.
#[derive(Clone, Copy, Default)]
struct Slot {
    tag: u64,
    len: u32,
    word: u32,
}

#[derive(Clone)]
struct Prefix {
    len: usize,
    /// Folded, zero-padded words of the prefix.
    words: Box<[u64]>,
}

/// Matches header names against exact names and prefixes, ASCII case-insensitively.
/// Build once (at config load); `is_match` never allocates.
#[derive(Clone)]
pub struct NameMatcher {
    /// `exact_first | prefix_first`: the one check most names ever see.
    any_first: Gate,
    /// Some exact name has this length and first byte...
    exact_first: Gate,
    /// ...and this length and last byte: turns away names that share a first letter and a
    /// length with an internal one (`x-request-id` against `x-internal-…`).
    exact_last: Gate,
    /// Some prefix of at most this length starts with this byte.
    prefix_first: Gate,
    /// Open addressing, linear probing, power-of-two size, at most 25% full.
    slots: Box<[Slot]>,
    shift: u32,
    /// Folded, zero-padded words of every exact name, back to back.
    words: Box<[u64]>,
    /// Prefixes ordered by first byte; `by_first[b]` is the range starting with `b`.
    prefixes: Box<[Prefix]>,
    by_first: Box<[(u16, u16); 256]>,
    /// An empty prefix (`*`) matches every name.
    everything: bool,
    patterns: usize,
}

impl std::fmt::Debug for NameMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NameMatcher")
            .field("patterns", &self.patterns)
            .field("exact", &self.slots.iter().filter(|s| s.tag != 0).count())
            .field("prefixes", &self.prefixes.len())
            .finish()
    }
}

impl NameMatcher {
    /// Builds a matcher from pattern strings (`name` or `prefix*`).
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<NameMatcher, PatternError> {
        let parsed = patterns.iter().map(|p| Pattern::parse(p.as_ref())).collect::<Result<Vec<_>, _>>()?;
        Ok(NameMatcher::from_patterns(&parsed))
    }

    pub fn from_patterns(patterns: &[Pattern]) -> NameMatcher {
        let (mut any_first, mut exact_first, mut exact_last, mut prefix_first) =
            (Gate::new(), Gate::new(), Gate::new(), Gate::new());
        let mut exact: Vec<&[u8]> = Vec::new();
        let mut prefixes: Vec<&[u8]> = Vec::new();
        let mut everything = false;
        for pattern in patterns {
            match pattern {
                Pattern::Exact(name) => {
                    any_first.set(name.len(), name[0]);
                    exact_first.set(name.len(), name[0]);
                    exact_last.set(name.len(), name[name.len() - 1]);
                    exact.push(name);
                }
                Pattern::Prefix(p) if p.is_empty() => everything = true,
                Pattern::Prefix(p) => {
                    // Long prefixes still own the shared last row.
                    for len in p.len().min(GATE_LENGTHS - 1)..GATE_LENGTHS {
                        any_first.set(len, p[0]);
                        prefix_first.set(len, p[0]);
                    }
                    prefixes.push(p);
                }
            }
        }
        exact.sort_unstable();
        exact.dedup();
        prefixes.sort_unstable();
        prefixes.dedup();

        let capacity = (exact.len() * 4).next_power_of_two().max(16);
        let mut slots = vec![Slot::default(); capacity].into_boxed_slice();
        let shift = 64 - capacity.trailing_zeros();
        let mut words = Vec::new();
        for name in &exact {
            let tag = hash(name);
            let mut at = (tag >> shift) as usize;
            while slots[at].tag != 0 {
                at = (at + 1) & (capacity - 1);
            }
            slots[at] = Slot { tag, len: name.len() as u32, word: words.len() as u32 };
            words.extend((0..name.len().div_ceil(8)).map(|i| folded(name, i * 8)));
        }

        let mut by_first = Box::new([(0u16, 0u16); 256]);
        let prefixes: Box<[Prefix]> = prefixes
            .iter()
            .map(|p| Prefix { len: p.len(), words: (0..p.len().div_ceil(8)).map(|i| folded(p, i * 8)).collect() })
            .collect();
        for (i, p) in prefixes.iter().enumerate() {
            let first = usize::from(p.words[0] as u8);
            if by_first[first].1 == 0 {
                by_first[first].0 = i as u16;
            }
            by_first[first].1 = i as u16 + 1;
        }

        NameMatcher {
            any_first,
            exact_first,
            exact_last,
            prefix_first,
            slots,
            shift,
            words: words.into_boxed_slice(),
            prefixes,
            by_first,
            everything,
            patterns: patterns.len(),
        }
    }

    /// Whether `name` equals one of the exact names or starts with one of the prefixes,
    /// ignoring ASCII case.
    ///
    /// Only the first gate is inlined into the caller: the common miss costs one table load
    /// (plus the load of the name's first byte, which dominates), no case folding and no
    /// call. Reading more of the name up front was measured slower: each extra byte is
    /// another dependent load.
    #[inline(always)]
    pub fn is_match(&self, name: &[u8]) -> bool {
        let Some(&first) = name.first() else { return self.everything };
        if !self.any_first.get(name.len(), first) {
            return self.everything;
        }
        self.past_the_gate(name, first)
    }

    #[inline(never)]
    fn past_the_gate(&self, name: &[u8], first: u8) -> bool {
        let len = name.len();
        (self.exact_first.get(len, first) && self.exact_last.get(len, name[len - 1]) && self.exact_match(name))
            || (self.prefix_first.get(len, first) && self.prefix_match(name, first.to_ascii_lowercase()))
            || self.everything
    }

    #[inline]
    fn exact_match(&self, name: &[u8]) -> bool {
        let tag = hash(name);
        let mask = self.slots.len() - 1;
        let mut at = (tag >> self.shift) as usize;
        loop {
            let slot = self.slots[at];
            if slot.tag == 0 {
                return false;
            }
            if slot.tag == tag && slot.len as usize == name.len() && self.same_words(name, slot.word as usize) {
                return true;
            }
            at = (at + 1) & mask;
        }
    }

    fn same_words(&self, name: &[u8], start: usize) -> bool {
        let stored = &self.words[start..start + name.len().div_ceil(8)];
        stored.iter().enumerate().all(|(i, &w)| folded(name, i * 8) == w)
    }

    #[inline]
    fn prefix_match(&self, name: &[u8], first: u8) -> bool {
        let (start, end) = self.by_first[usize::from(first)];
        // Most candidates differ within the first word: fold it once for all prefixes.
        let head = folded(name, 0);
        self.prefixes[usize::from(start)..usize::from(end)].iter().any(|p| {
            name.len() >= p.len
                && head & low_bytes(p.len) == p.words[0]
                && p.words.iter().enumerate().skip(1).all(|(i, &w)| folded(name, i * 8) & low_bytes(p.len - i * 8) == w)
        })
    }
}

/// Mixes the length and the folded first and last words (they overlap for names of 9–15
/// bytes, and coincide up to 8). Never 0.
#[inline(always)]
fn hash(name: &[u8]) -> u64 {
    let len = name.len();
    let head = folded(name, 0);
    let tail = if len > 8 { folded(name, len - 8) } else { 0 };
    let mixed = (head ^ tail.rotate_left(29) ^ (len as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (mixed ^ (mixed >> 31)) | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(patterns: &[&str]) -> NameMatcher {
        NameMatcher::new(patterns).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn exact_names_ignore_case_and_nothing_else() {
        let m = m(&["cf-worker", "x-forwarded-internal", "a"]);
        for yes in ["cf-worker", "CF-Worker", "cF-wORKER", "X-Forwarded-Internal", "A"] {
            assert!(m.is_match(yes.as_bytes()), "{yes}");
        }
        for no in ["cf-worke", "cf-workers", "cf_worker", "x-forwarded-interna1", "", "b", "aa"] {
            assert!(!m.is_match(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn prefixes_match_names_that_start_with_them() {
        let m = m(&["x-internal-*", "x-i*", "cf-*", "verylongprefix-abcdefgh-*"]);
        for yes in ["x-internal-", "X-INTERNAL-id", "x-iz", "CF-ray", "cf-", "VeryLongPrefix-ABCDEFGH-x"] {
            assert!(m.is_match(yes.as_bytes()), "{yes}");
        }
        for no in ["x-", "x-forwarded-for", "cf", "c", "verylongprefix-abcdefg", "xx-internal-"] {
            assert!(!m.is_match(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn star_matches_everything_and_empty_matches_nothing() {
        assert!(m(&["*"]).is_match(b"anything"));
        assert!(m(&["*"]).is_match(b""));
        assert!(!m(&[]).is_match(b"anything"));
    }

    #[test]
    fn long_names_share_the_last_gate_row() {
        let long = "x".repeat(100);
        let m = m(&[long.as_str()]);
        assert!(m.is_match(long.to_uppercase().as_bytes()));
        assert!(!m.is_match("x".repeat(99).as_bytes()));
        assert!(!m.is_match("x".repeat(101).as_bytes()));
        let prefix = format!("{}*", "y".repeat(70));
        let m = NameMatcher::new(&[prefix]).unwrap_or_else(|e| panic!("{e}"));
        assert!(m.is_match("Y".repeat(75).as_bytes()));
        assert!(!m.is_match("y".repeat(69).as_bytes()));
    }
}
