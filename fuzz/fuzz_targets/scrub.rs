//! `NameMatcher` against a lowercase reference on fuzzer-chosen patterns and names.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_scrub::{NameMatcher, Pattern};

fuzz_target!(|data: &[u8]| {
    // Newline-separated: patterns, then (after an empty line) names to look up.
    let text = String::from_utf8_lossy(data);
    let (patterns, names) = text.split_once("\n\n").unwrap_or((&text, ""));
    let patterns: Vec<&str> = patterns.lines().filter(|p| Pattern::parse(p).is_ok()).collect();
    let Ok(matcher) = NameMatcher::new(&patterns) else { return };
    let parsed: Vec<Pattern> = patterns.iter().filter_map(|p| Pattern::parse(p).ok()).collect();
    for name in names.lines().chain(patterns.iter().map(|p| p.trim_end_matches('*'))) {
        let lower = name.as_bytes().to_ascii_lowercase();
        let expected = parsed.iter().any(|p| match p {
            Pattern::Exact(e) => *e == lower,
            Pattern::Prefix(pre) => lower.starts_with(pre),
        });
        assert_eq!(matcher.is_match(name.as_bytes()), expected, "{name:?} against {patterns:?}");
    }
});
