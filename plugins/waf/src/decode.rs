//! The request target as rules see it: path and query, each raw and percent-decoded once.
//!
//! Attacks are usually sent encoded (`%27%20or%201%3D1`), so every path and query rule runs
//! over both forms. Decoding happens once, not until a fixpoint: a double-encoded payload
//! still shows its once-decoded form (`%2e%2e%2f`), which the built-in patterns know.

/// One inspected value: the bytes as sent and, when decoding changes them, the decoded bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Forms<'a> {
    pub raw: &'a [u8],
    pub decoded: Option<&'a [u8]>,
}

impl<'a> Forms<'a> {
    fn new(raw: &'a [u8], decoded: Option<&'a [u8]>) -> Forms<'a> {
        // Scanning identical bytes twice would only cost time.
        Forms { raw, decoded: decoded.filter(|d| *d != raw) }
    }

    /// Each distinct form, raw first.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> {
        std::iter::once(self.raw).chain(self.decoded)
    }
}

/// `/path?query` split at the first `?`, with its decoded form built at most once, and only
/// when the target contains something to decode.
pub(crate) struct Target<'a> {
    raw: &'a [u8],
    raw_query_at: Option<usize>,
    /// The decoded path, then `?` and the decoded query if there is one.
    decoded: Option<Vec<u8>>,
    decoded_query_at: Option<usize>,
}

impl<'a> Target<'a> {
    pub fn new(target: &'a str) -> Target<'a> {
        let raw = target.as_bytes();
        let raw_query_at = raw.iter().position(|&b| b == b'?');
        let (path, query) = match raw_query_at {
            Some(at) => (&raw[..at], Some(&raw[at + 1..])),
            None => (raw, None),
        };
        let changes = path.contains(&b'%') || query.is_some_and(|q| q.iter().any(|&b| b == b'%' || b == b'+'));
        if !changes {
            return Target { raw, raw_query_at, decoded: None, decoded_query_at: None };
        }
        let mut decoded = Vec::with_capacity(raw.len());
        percent_decode(path, false, &mut decoded);
        let mut decoded_query_at = None;
        if let Some(query) = query {
            decoded_query_at = Some(decoded.len());
            decoded.push(b'?');
            percent_decode(query, true, &mut decoded);
        }
        Target { raw, raw_query_at, decoded: Some(decoded), decoded_query_at }
    }

    pub fn path_and_query(&self) -> Forms<'_> {
        Forms::new(self.raw, self.decoded.as_deref())
    }

    pub fn path(&self) -> Forms<'_> {
        let raw = &self.raw[..self.raw_query_at.unwrap_or(self.raw.len())];
        let decoded = self.decoded.as_deref().map(|d| &d[..self.decoded_query_at.unwrap_or(d.len())]);
        Forms::new(raw, decoded)
    }

    /// `None` when the target has no `?`.
    pub fn query(&self) -> Option<Forms<'_>> {
        let raw = &self.raw[self.raw_query_at? + 1..];
        let decoded = match (&self.decoded, self.decoded_query_at) {
            (Some(d), Some(at)) => Some(&d[at + 1..]),
            _ => None,
        };
        Some(Forms::new(raw, decoded))
    }
}

/// Appends `input` with each valid `%XX` turned into its byte; in a query (`plus`), `+` is a
/// space as in `application/x-www-form-urlencoded`. A `%` without two hex digits is kept.
fn percent_decode(input: &[u8], plus: bool, out: &mut Vec<u8>) {
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'%' {
            if let (Some(hi), Some(lo)) = (input.get(i + 1).and_then(hex), input.get(i + 2).and_then(hex)) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(if plus && b == b'+' { b' ' } else { b });
        i += 1;
    }
}

fn hex(b: &u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forms(f: Forms<'_>) -> (String, Option<String>) {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (text(f.raw), f.decoded.map(text))
    }

    #[test]
    fn plain_targets_are_not_copied() {
        let t = Target::new("/a/b?c=d");
        assert!(t.decoded.is_none());
        assert_eq!(forms(t.path()), ("/a/b".into(), None));
        assert_eq!(t.query().map(forms), Some(("c=d".into(), None)));
        assert_eq!(forms(t.path_and_query()), ("/a/b?c=d".into(), None));
        assert_eq!(Target::new("/a").query(), None);
    }

    #[test]
    fn decodes_percent_in_path_and_plus_only_in_query() {
        let t = Target::new("/a%2Fb+c?q=%27%20or+1%3D1");
        assert_eq!(forms(t.path()), ("/a%2Fb+c".into(), Some("/a/b+c".into())));
        assert_eq!(t.query().map(forms), Some(("q=%27%20or+1%3D1".into(), Some("q=' or 1=1".into()))));
        assert_eq!(forms(t.path_and_query()).1.as_deref(), Some("/a/b+c?q=' or 1=1"));
    }

    #[test]
    fn a_changed_query_leaves_the_path_single() {
        let t = Target::new("/plain?a=b+c");
        assert_eq!(forms(t.path()), ("/plain".into(), None));
        assert_eq!(t.query().map(forms), Some(("a=b+c".into(), Some("a=b c".into()))));
    }

    #[test]
    fn decodes_once_and_keeps_malformed_escapes() {
        let t = Target::new("/%252e%zz%4?x=%");
        assert_eq!(forms(t.path()).1.as_deref(), Some("/%2e%zz%4"));
        assert_eq!(t.query().map(forms), Some(("x=%".into(), None)));
    }

    #[test]
    fn a_question_mark_decoded_from_the_path_does_not_split_it() {
        let t = Target::new("/a%3Fb?c");
        assert_eq!(forms(t.path()).1.as_deref(), Some("/a?b"));
        assert_eq!(t.query().map(forms), Some(("c".into(), None)));
    }
}
