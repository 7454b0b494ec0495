//! `Cookie: a=1; beta=yes`: pairs split on `;`, trimmed, name and value split at the first
//! `=`. Names are case-sensitive; a value is taken as sent (quotes included).

/// The value of the first cookie called `name` in any of the `Cookie` fields.
pub(crate) fn find<'a>(fields: &'a [Vec<u8>], name: &str) -> Option<&'a [u8]> {
    fields.iter().flat_map(|field| field.split(|&b| b == b';')).find_map(|pair| {
        let pair = pair.trim_ascii();
        let eq = pair.iter().position(|&b| b == b'=')?;
        (pair[..eq].trim_ascii() == name.as_bytes()).then(|| pair[eq + 1..].trim_ascii())
    })
}

#[cfg(test)]
mod tests {
    use super::find;

    fn fields(values: &[&str]) -> Vec<Vec<u8>> {
        values.iter().map(|v| v.as_bytes().to_vec()).collect()
    }

    #[test]
    fn finds_the_first_pair_with_the_exact_name() {
        let f = fields(&["a=1; beta=yes;xbeta=no", "beta=later"]);
        assert_eq!(find(&f, "a"), Some(&b"1"[..]));
        assert_eq!(find(&f, "beta"), Some(&b"yes"[..]));
        assert_eq!(find(&f, "xbeta"), Some(&b"no"[..]));
        assert_eq!(find(&f, "Beta"), None);
        assert_eq!(find(&f, "b"), None);
    }

    #[test]
    fn values_keep_later_equals_signs_and_empty_values() {
        let f = fields(&["token=a=b==; empty=; flag"]);
        assert_eq!(find(&f, "token"), Some(&b"a=b=="[..]));
        assert_eq!(find(&f, "empty"), Some(&b""[..]));
        assert_eq!(find(&f, "flag"), None);
    }
}
