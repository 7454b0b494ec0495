//! `Cookie: a=1; beta=yes`: pairs split on `;`, trimmed, name and value split at the first
//! `=`. Names are case-sensitive; a value is taken as sent (quotes included).

/// The value of the first cookie called `name` in a `Cookie` field.
pub(crate) fn find<'a>(field: &'a [u8], name: &str) -> Option<&'a [u8]> {
    field.split(|&b| b == b';').find_map(|pair| {
        let pair = pair.trim_ascii();
        let eq = pair.iter().position(|&b| b == b'=')?;
        (pair[..eq].trim_ascii() == name.as_bytes()).then(|| pair[eq + 1..].trim_ascii())
    })
}

#[cfg(test)]
mod tests {
    use super::find;

    #[test]
    fn finds_the_first_pair_with_the_exact_name() {
        let f = b"a=1; beta=yes;xbeta=no; beta=later";
        assert_eq!(find(f, "a"), Some(&b"1"[..]));
        assert_eq!(find(f, "beta"), Some(&b"yes"[..]));
        assert_eq!(find(f, "xbeta"), Some(&b"no"[..]));
        assert_eq!(find(f, "Beta"), None);
        assert_eq!(find(f, "b"), None);
    }

    #[test]
    fn values_keep_later_equals_signs_and_empty_values() {
        let f = b"token=a=b==; empty=; flag";
        assert_eq!(find(f, "token"), Some(&b"a=b=="[..]));
        assert_eq!(find(f, "empty"), Some(&b""[..]));
        assert_eq!(find(f, "flag"), None);
    }
}
