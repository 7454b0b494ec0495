//! Patterns as operators write them: `x-internal-*` (a prefix) or `cf-worker` (a name).

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// The whole name, lowercased.
    Exact(Vec<u8>),
    /// Names starting with this, lowercased; empty means every name.
    Prefix(Vec<u8>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatternError {
    pub pattern: String,
    pub reason: &'static str,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid header pattern {:?}: {}", self.pattern, self.reason)
    }
}

impl std::error::Error for PatternError {}

impl Pattern {
    /// Parses `name` or `prefix*`. Names must be HTTP tokens; `*` may only end a pattern.
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        let error = |reason| PatternError { pattern: text.to_owned(), reason };
        let (body, prefix) = match text.strip_suffix('*') {
            Some(body) => (body, true),
            None => (text, false),
        };
        if body.contains('*') {
            return Err(error("`*` is only allowed at the end, as a prefix wildcard"));
        }
        if !prefix && body.is_empty() {
            return Err(error("empty header name"));
        }
        if !body.bytes().all(is_tchar) {
            return Err(error("header names may only contain letters, digits and !#$%&'+-.^_`|~"));
        }
        let lower = body.to_ascii_lowercase().into_bytes();
        Ok(if prefix { Pattern::Prefix(lower) } else { Pattern::Exact(lower) })
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_prefixes() {
        assert_eq!(Pattern::parse("CF-Worker"), Ok(Pattern::Exact(b"cf-worker".to_vec())));
        assert_eq!(Pattern::parse("X-Internal-*"), Ok(Pattern::Prefix(b"x-internal-".to_vec())));
        assert_eq!(Pattern::parse("*"), Ok(Pattern::Prefix(Vec::new())));
        for bad in ["", "a*b", "**", "x internal", "x:y", "é"] {
            assert!(Pattern::parse(bad).is_err(), "{bad:?}");
        }
    }
}
