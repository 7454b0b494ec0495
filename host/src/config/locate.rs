//! Turns byte spans and serde paths into the file/line/column/key of a [`ConfigError`].

use std::fmt::Write as _;
use std::ops::Range;

use serde_path_to_error::{Path, Segment};

use super::ConfigError;

/// Prefix of the private keys through which `toml::Spanned` deserializes; they are an
/// implementation detail and must not leak into key paths shown to users.
const SPANNED_KEY_PREFIX: &str = "$__serde_spanned_private_";

/// The source being parsed, so any error can be placed in it.
pub(crate) struct Locator<'a> {
    pub origin: &'a str,
    pub src: &'a str,
}

impl Locator<'_> {
    /// An error at the start of `span`.
    pub fn at(&self, span: Range<usize>, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        let (line, column) = line_column(self.src, span.start);
        ConfigError { file: self.origin.to_owned(), line, column, key: key.into(), message: message.into() }
    }

    pub fn position(&self, span: Range<usize>, key: impl Into<String>) -> super::error::Position {
        let (line, column) = line_column(self.src, span.start);
        super::error::Position { file: self.origin.to_owned(), line, column, key: key.into() }
    }

    /// A syntax or type error from toml, with the key path serde was at when it failed.
    pub fn deserialize_error(&self, err: serde_path_to_error::Error<toml::de::Error>) -> ConfigError {
        let key = key_path(err.path());
        let err = err.into_inner();
        let start = err.span().map_or(0, |span| span.start);
        // toml puts context on further lines ("invalid array\nexpected `]`"); keep one line.
        let message = err.message().trim().replace('\n', ": ");
        self.at(start..start, key, message)
    }
}

/// 1-based line and column of byte `offset`; the column counts characters, not bytes,
/// so it matches what an editor shows on lines with non-ASCII text.
pub(crate) fn line_column(src: &str, offset: usize) -> (usize, usize) {
    let before = &src.as_bytes()[..offset.min(src.len())];
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let is_char_start = |b: &&u8| (**b & 0xC0) != 0x80;
    let column = 1 + before[line_start..].iter().filter(is_char_start).count();
    (line, column)
}

/// `routes[0].match.host`; keys that are not bare TOML keys are quoted as in TOML.
pub(crate) fn key_path(path: &Path) -> String {
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => {
                let _ = write!(out, "[{index}]");
            }
            Segment::Map { key } if key.starts_with(SPANNED_KEY_PREFIX) => {}
            Segment::Map { key } | Segment::Enum { variant: key } => push_key(&mut out, key),
            Segment::Unknown => push_key(&mut out, "?"),
        }
    }
    out
}

/// Appends `key` to a dotted path, quoting it unless it is a bare TOML key.
pub(crate) fn push_key(out: &mut String, key: &str) {
    if !out.is_empty() {
        out.push('.');
    }
    let bare = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        out.push_str(key);
    } else {
        let _ = write!(out, "{key:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let src = "a = 1\nbé = \"x\"\n";
        assert_eq!(line_column(src, 0), (1, 1));
        assert_eq!(line_column(src, 4), (1, 5));
        assert_eq!(line_column(src, 6), (2, 1));
        // "bé = " is 6 bytes but 5 characters, so the string starts at column 6.
        assert_eq!(line_column(src, 12), (2, 6));
        assert_eq!(line_column(src, 999), (3, 1));
    }

    #[test]
    fn odd_keys_are_quoted() {
        let mut out = String::from("upstreams");
        push_key(&mut out, "my.app");
        push_key(&mut out, "endpoints");
        assert_eq!(out, "upstreams.\"my.app\".endpoints");
    }
}
