//! The contenders, each built from the same pattern strings (`name` or `prefix*`).

use std::collections::HashSet;

use portcullis_scrub::{NameMatcher, Pattern};
use trie_hard::TrieHard;

pub trait Contender {
    fn name(&self) -> &'static str;
    fn is_internal(&self, name: &[u8]) -> bool;
    /// For input already lowercased: skips any lowercasing step.
    fn is_internal_lowercase(&self, lower: &[u8]) -> bool {
        self.is_internal(lower)
    }
}

/// Runs a contender on pre-lowercased input (trie-hard's best case: Pingora's header maps
/// store lowercase names).
pub struct LowercaseInput<C>(pub C);

impl<C: Contender> Contender for LowercaseInput<C> {
    fn name(&self) -> &'static str {
        match self.0.name() {
            "trie-hard" => "trie-hard (pre-lowercased input)",
            _ => "portcullis NameMatcher (pre-lowercased input)",
        }
    }
    fn is_internal(&self, name: &[u8]) -> bool {
        self.0.is_internal_lowercase(name)
    }
}

fn split(patterns: &[String]) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let (mut exact, mut prefixes) = (Vec::new(), Vec::new());
    for p in patterns {
        match Pattern::parse(p).unwrap() {
            Pattern::Exact(e) => exact.push(e),
            Pattern::Prefix(p) => prefixes.push(p),
        }
    }
    (exact, prefixes)
}

/// Lowercases into a stack buffer: what a lowercase-keyed structure must do per lookup.
#[inline(always)]
fn with_lowercase<R>(name: &[u8], f: impl FnOnce(&[u8]) -> R) -> R {
    let mut buf = [0u8; 128];
    if name.len() <= buf.len() {
        for (d, s) in buf.iter_mut().zip(name) {
            *d = s.to_ascii_lowercase();
        }
        f(&buf[..name.len()])
    } else {
        f(&name.to_ascii_lowercase())
    }
}

fn any_prefix(prefixes: &[Vec<u8>], lower: &[u8]) -> bool {
    prefixes.iter().any(|p| lower.starts_with(p))
}

/// Cloudflare's starting point: a loop over every internal name.
pub struct Naive(Vec<Vec<u8>>, Vec<Vec<u8>>);

impl Naive {
    pub fn new(patterns: &[String]) -> Naive {
        let (e, p) = split(patterns);
        Naive(e, p)
    }
}

impl Contender for Naive {
    fn name(&self) -> &'static str {
        "naive Vec loop"
    }
    fn is_internal(&self, name: &[u8]) -> bool {
        self.0.iter().any(|e| e.eq_ignore_ascii_case(name))
            || self.1.iter().any(|p| name.len() >= p.len() && name[..p.len()].eq_ignore_ascii_case(p))
    }
}

pub struct StdHashSet(HashSet<Vec<u8>>, Vec<Vec<u8>>);

impl StdHashSet {
    pub fn new(patterns: &[String]) -> StdHashSet {
        let (e, p) = split(patterns);
        StdHashSet(e.into_iter().collect(), p)
    }
}

impl Contender for StdHashSet {
    fn name(&self) -> &'static str {
        "std HashSet"
    }
    fn is_internal(&self, name: &[u8]) -> bool {
        with_lowercase(name, |lower| self.0.contains(lower) || any_prefix(&self.1, lower))
    }
}

pub struct FoldHashSet(HashSet<Vec<u8>, foldhash::fast::RandomState>, Vec<Vec<u8>>);

impl FoldHashSet {
    pub fn new(patterns: &[String]) -> FoldHashSet {
        let (e, p) = split(patterns);
        FoldHashSet(e.into_iter().collect(), p)
    }
}

impl Contender for FoldHashSet {
    fn name(&self) -> &'static str {
        "foldhash HashSet"
    }
    fn is_internal(&self, name: &[u8]) -> bool {
        with_lowercase(name, |lower| self.0.contains(lower) || any_prefix(&self.1, lower))
    }
}

pub struct RegexSetMatcher(regex::bytes::RegexSet);

impl RegexSetMatcher {
    pub fn new(patterns: &[String]) -> RegexSetMatcher {
        let (e, p) = split(patterns);
        let escape = |b: &[u8]| regex::escape(std::str::from_utf8(b).unwrap());
        let regexes =
            e.iter().map(|e| format!("(?i-u)^{}$", escape(e))).chain(p.iter().map(|p| format!("(?i-u)^{}", escape(p))));
        RegexSetMatcher(regex::bytes::RegexSet::new(regexes).unwrap())
    }
}

impl Contender for RegexSetMatcher {
    fn name(&self) -> &'static str {
        "regex set"
    }
    fn is_internal(&self, name: &[u8]) -> bool {
        self.0.is_match(name)
    }
}

/// The baseline: Cloudflare's trie-hard, exact names in one trie and prefixes in another
/// (`ancestor` finds a stored prefix of the key).
pub struct TrieHardMatcher {
    exact: TrieHard<'static, ()>,
    prefixes: Option<TrieHard<'static, ()>>,
}

impl TrieHardMatcher {
    pub fn new(patterns: &[String]) -> TrieHardMatcher {
        let (e, p) = split(patterns);
        // trie-hard borrows its keys; the bench keeps them for its whole run.
        let leak = |v: Vec<Vec<u8>>| -> Vec<(&'static [u8], ())> {
            v.into_iter().map(|k| (&*Box::leak(k.into_boxed_slice()), ())).collect()
        };
        let prefixes = (!p.is_empty()).then(|| TrieHard::new(leak(p)));
        TrieHardMatcher { exact: TrieHard::new(leak(e)), prefixes }
    }
}

impl Contender for TrieHardMatcher {
    fn name(&self) -> &'static str {
        "trie-hard"
    }
    fn is_internal(&self, name: &[u8]) -> bool {
        with_lowercase(name, |lower| self.is_internal_lowercase(lower))
    }
    #[inline(always)]
    fn is_internal_lowercase(&self, lower: &[u8]) -> bool {
        self.exact.get_from_bytes(lower).is_some()
            || self.prefixes.as_ref().is_some_and(|p| p.ancestor(lower).is_some())
    }
}

pub struct Ours(NameMatcher);

impl Ours {
    pub fn new(patterns: &[String]) -> Ours {
        Ours(NameMatcher::new(patterns).unwrap())
    }
}

impl Contender for Ours {
    fn name(&self) -> &'static str {
        "portcullis NameMatcher"
    }
    fn is_internal(&self, name: &[u8]) -> bool {
        self.0.is_match(name)
    }
}
