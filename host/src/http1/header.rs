//! Header fields as zero-copy slices of the received head.

use bytes::Bytes;

/// One field line. Names keep the case the peer sent (some origins care); every lookup
/// is ASCII case-insensitive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub name: Bytes,
    pub value: Bytes,
}

impl Header {
    pub fn new(name: impl Into<Bytes>, value: impl Into<Bytes>) -> Header {
        Header { name: name.into(), value: value.into() }
    }

    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }
}

/// An ordered field list. A `Vec` rather than a map: heads are small, order and
/// duplicates must survive forwarding, and a linear scan over ~20 short names beats hashing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers(Vec<Header>);

impl Headers {
    pub fn with_capacity(n: usize) -> Headers {
        Headers(Vec::with_capacity(n))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Header> {
        self.0.iter()
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&Bytes> {
        self.0.iter().find(|h| h.is(name)).map(|h| &h.value)
    }

    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Bytes> + 'a {
        self.0.iter().filter(move |h| h.is(name)).map(|h| &h.value)
    }

    /// Every `name` value in order, separated by `separator`, appended to `out` (to fold a
    /// list-valued field, or split cookies, into one line).
    pub fn join_into(&self, name: &str, separator: &[u8], out: &mut bytes::BytesMut) {
        for (i, value) in self.get_all(name).enumerate() {
            if i > 0 {
                out.extend_from_slice(separator);
            }
            out.extend_from_slice(value);
        }
    }

    pub fn count(&self, name: &str) -> usize {
        self.0.iter().filter(|h| h.is(name)).count()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|h| h.is(name))
    }

    pub fn push(&mut self, header: Header) {
        self.0.push(header);
    }

    pub fn append(&mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) {
        self.0.push(Header::new(name, value));
    }

    /// Replaces every `name` field with one field (at the first one's position); when there
    /// is none, appends it spelled as `name` (so pass the canonical case).
    pub fn set(&mut self, name: &'static str, value: impl Into<Bytes>) {
        let value = value.into();
        match self.0.iter().position(|h| h.is(name)) {
            Some(first) => {
                self.0[first].value = value;
                let mut index = 0;
                self.0.retain(|h| {
                    let keep = index <= first || !h.is(name);
                    index += 1;
                    keep
                });
            }
            None => self.append(Bytes::from_static(name.as_bytes()), value),
        }
    }

    /// Like [`Headers::set`] for a name only known at run time (a plugin's): the first
    /// `name` field takes the new name and value, the others go.
    pub fn replace(&mut self, name: Bytes, value: Bytes) {
        let Ok(text) = std::str::from_utf8(&name) else { return self.append(name, value) };
        match self.0.iter().position(|h| h.is(text)) {
            Some(first) => {
                // Repeats are rare: scan for one before paying for `retain`.
                if self.0[first + 1..].iter().any(|h| h.is(text)) {
                    let mut index = 0;
                    self.0.retain(|h| {
                        let keep = index <= first || !h.is(text);
                        index += 1;
                        keep
                    });
                }
                self.0[first] = Header { name, value };
            }
            None => self.append(name, value),
        }
    }

    pub fn remove(&mut self, name: &str) {
        self.0.retain(|h| !h.is(name));
    }

    /// In-place filter: keeps the storage, so scrubbing never reallocates.
    pub fn retain(&mut self, keep: impl FnMut(&Header) -> bool) {
        self.0.retain(keep);
    }

    /// Whether any `name` field lists `token` in its comma-separated value
    /// (e.g. `Connection: keep-alive, Upgrade`).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name).any(|v| tokens(v).any(|t| t.eq_ignore_ascii_case(token.as_bytes())))
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = &'a Header;
    type IntoIter = std::slice::Iter<'a, Header>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// The non-empty, whitespace-trimmed elements of a comma-separated field value.
pub fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim_ows).filter(|t| !t.is_empty())
}

/// Trims optional whitespace (SP / HTAB) from both ends.
pub fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Whether a message lets its connection stay open: HTTP/1.1 unless `Connection: close`,
/// HTTP/1.0 only with `Connection: keep-alive`.
pub fn keep_alive(version: super::Version, headers: &Headers) -> bool {
    match version {
        super::Version::Http11 => !headers.has_token("connection", "close"),
        super::Version::Http10 => headers.has_token("connection", "keep-alive"),
        // Streams end, the connection stays: HTTP/2 has no `Connection` field.
        super::Version::Http2 => true,
    }
}
