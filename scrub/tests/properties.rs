//! `NameMatcher` against a plain reference (lowercase, `HashSet` for names, a loop for
//! prefixes) on random pattern sets and random, mixed-case, near-miss names.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;

use portcullis_scrub::NameMatcher;
use portcullis_testkit::Rng;

/// Small alphabet so that random names collide with patterns and share long prefixes.
const ALPHABET: &[u8] = b"xXiI-nNtTcCfF_~^0";

fn random_name(rng: &mut Rng, max: usize) -> Vec<u8> {
    (0..1 + rng.below(max)).map(|_| ALPHABET[rng.below(ALPHABET.len())]).collect()
}

/// A near miss of `base`: one byte changed, added or removed, maybe case-flipped.
fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut name = base.to_vec();
    if name.is_empty() {
        return random_name(rng, 4);
    }
    let at = rng.below(name.len());
    match rng.below(4) {
        0 => name[at] = ALPHABET[rng.below(ALPHABET.len())],
        1 => name.insert(at, ALPHABET[rng.below(ALPHABET.len())]),
        2 => {
            name.remove(at);
        }
        _ => {
            name[at] = if name[at].is_ascii_lowercase() {
                name[at].to_ascii_uppercase()
            } else {
                name[at].to_ascii_lowercase()
            }
        }
    }
    name
}

struct Reference {
    exact: HashSet<Vec<u8>>,
    prefixes: Vec<Vec<u8>>,
}

impl Reference {
    fn is_match(&self, name: &[u8]) -> bool {
        let lower = name.to_ascii_lowercase();
        self.exact.contains(&lower) || self.prefixes.iter().any(|p| lower.starts_with(p))
    }
}

#[test]
fn agrees_with_a_hash_set_reference() {
    for seed in 1..=300u64 {
        let mut rng = Rng(seed);
        let mut patterns = Vec::new();
        let mut reference = Reference { exact: HashSet::new(), prefixes: Vec::new() };
        for _ in 0..rng.below(40) {
            // Up to 80 bytes: exercises every word count and the shared last gate row.
            let max = if rng.below(8) == 0 { 80 } else { 20 };
            let name = random_name(&mut rng, max);
            let text = String::from_utf8(name.clone()).unwrap();
            if rng.below(4) == 0 {
                reference.prefixes.push(name.to_ascii_lowercase());
                patterns.push(format!("{text}*"));
            } else {
                reference.exact.insert(name.to_ascii_lowercase());
                patterns.push(text);
            }
        }
        let matcher = NameMatcher::new(&patterns).unwrap();
        let mut probes: Vec<Vec<u8>> = patterns.iter().map(|p| p.trim_end_matches('*').as_bytes().to_vec()).collect();
        for i in 0..probes.len() {
            let near = mutate(&mut rng, &probes[i].clone());
            probes.push(near);
        }
        for _ in 0..200 {
            let len = if rng.below(8) == 0 { 90 } else { 24 };
            probes.push(random_name(&mut rng, len));
        }
        for probe in &probes {
            assert_eq!(
                matcher.is_match(probe),
                reference.is_match(probe),
                "seed {seed}: {:?} against {patterns:?}",
                String::from_utf8_lossy(probe)
            );
        }
    }
}

#[test]
fn non_ascii_bytes_never_fold_into_ascii() {
    // 0xC1 | 0x20 == 0xE1 and 0x5E ('^') | 0x20 == 0x7E ('~'): folding must touch only A-Z.
    let m = NameMatcher::new(&["x-~", "a^b", "ab_"]).unwrap();
    assert!(!m.is_match(b"x-^"));
    assert!(!m.is_match(b"a~b"));
    assert!(!m.is_match(b"ab\x7f"));
    assert!(!m.is_match(&[b'x', b'-', 0xDE]));
    assert!(m.is_match(b"X-~") && m.is_match(b"A^B") && m.is_match(b"AB_"));
}
