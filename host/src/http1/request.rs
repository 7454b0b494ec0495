//! Request heads: parsing with limits, validation of Host and request target.

use bytes::{Bytes, BytesMut};

use super::error::{from_httparse, HeadError};
use super::framing::{self, BodyKind};
use super::head::{self, Span};
use super::header::Headers;
use super::Version;

/// Limits applied while a head is still arriving, so an attacker cannot make us buffer
/// more than `max_head_bytes` or scan an endless request line.
#[derive(Clone, Copy, Debug)]
pub struct HeadLimits {
    pub max_headers: usize,
    pub max_head_bytes: usize,
    pub max_request_line: usize,
}

impl Default for HeadLimits {
    fn default() -> Self {
        HeadLimits { max_headers: 100, max_head_bytes: 64 * 1024, max_request_line: 8 * 1024 }
    }
}

/// A parsed request head. `target` is always origin-form (`/path?query`) or `*`;
/// an absolute-form target is split into `target` and `authority`.
#[derive(Clone, Debug)]
pub struct RequestHead {
    pub method: Bytes,
    pub target: Bytes,
    pub version: Version,
    pub headers: Headers,
    /// Host from an absolute-form target, else from the Host header; lowercased, no port.
    pub host: Option<String>,
    pub body: BodyKind,
}

/// An empty head, only for moving a real one out (into a plugin's store) and back.
impl Default for RequestHead {
    fn default() -> Self {
        RequestHead {
            method: Bytes::new(),
            target: Bytes::new(),
            version: Version::Http11,
            headers: Headers::default(),
            host: None,
            body: BodyKind::Empty,
        }
    }
}

impl RequestHead {
    pub fn method_is(&self, method: &str) -> bool {
        self.method.as_ref() == method.as_bytes()
    }

    /// The path part of the target, without the query.
    pub fn path(&self) -> &[u8] {
        let t = &self.target[..];
        match memchr::memchr(b'?', t) {
            Some(q) => &t[..q],
            None => t,
        }
    }

    /// Whether the client wants the connection kept open after this exchange.
    pub fn keep_alive(&self) -> bool {
        super::header::keep_alive(self.version, &self.headers)
    }

    /// `Expect: 100-continue`; any other expectation is refused with 417 by `parse`.
    pub fn expects_continue(&self) -> bool {
        self.headers.has_token("expect", "100-continue")
    }
}

/// Per-connection parser: keeps its scratch space so parsing allocates only the field list.
pub struct RequestParser {
    limits: HeadLimits,
    spans: Vec<Span>,
}

impl RequestParser {
    pub fn new(limits: HeadLimits) -> RequestParser {
        RequestParser { limits, spans: Vec::new() }
    }

    /// Parses one request head from the front of `buf`. `Ok(None)` means more bytes are
    /// needed; on success the head's bytes are removed from `buf` (the body and any
    /// pipelined requests stay).
    pub fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<RequestHead>, HeadError> {
        let limits = self.limits;
        // Leading empty lines before a request line are allowed (RFC 9112 §2.2).
        let skip = buf.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
        // The limit counts the request line without its CRLF (RFC 9112 §3); a trailing CR
        // that has not yet met its LF is not counted either.
        let line = &buf[skip..];
        let line = memchr::memchr(b'\n', line).map_or(line, |end| &line[..end]);
        if line.strip_suffix(b"\r").unwrap_or(line).len() > limits.max_request_line {
            return Err(HeadError::RequestLineTooLong);
        }

        let spans = &mut self.spans;
        let parsed = head::with_slots(limits.max_headers, |slots| {
            let mut req = httparse::Request::new(&mut []);
            let status = httparse::ParserConfig::default()
                .parse_request_with_uninit_headers(&mut req, buf, slots)
                .map_err(from_httparse)?;
            let Some(len) = head::complete_len(status, buf.len(), limits.max_head_bytes)? else {
                return Ok(None);
            };
            spans.clear();
            spans.extend(req.headers.iter().map(|field| Span::of(buf, field)));
            let method = head::offsets(buf, req.method.unwrap_or_default().as_bytes());
            let target = head::offsets(buf, req.path.unwrap_or_default().as_bytes());
            Ok(Some((len, method, target, req.version.unwrap_or(1))))
        })?;
        let Some((len, method, target, minor)) = parsed else { return Ok(None) };

        let (head, headers) = head::freeze(buf, len, &self.spans, 4)?;
        let version = Version::from_minor(minor);
        let method = head.slice(method.0..method.1);
        let target = head.slice(target.0..target.1);
        build(method, target, version, headers).map(Some)
    }
}

fn build(method: Bytes, target: Bytes, version: Version, mut headers: Headers) -> Result<RequestHead, HeadError> {
    if method.as_ref() == b"CONNECT" {
        return Err(HeadError::ConnectNotAllowed);
    }
    let body = framing::request_body(&headers, version == Version::Http10)?;

    let host_count = headers.count("host");
    if host_count > 1 {
        return Err(HeadError::MultipleHost);
    }
    let (target, authority) = split_target(&method, target)?;
    let host = match (authority, headers.get("host")) {
        // Absolute-form wins over Host (RFC 9112 §3.2.2); rewrite Host so the origin
        // and the router see the same authority.
        (Some(authority), _) => {
            let host = host_of(&authority)?;
            headers.set("Host", authority);
            Some(host)
        }
        (None, Some(value)) if value.is_empty() => None,
        (None, Some(value)) => Some(host_of(value)?),
        (None, None) if version == Version::Http11 => return Err(HeadError::MissingHost),
        (None, None) => None,
    };

    check_expect(&headers)?;
    Ok(RequestHead { method, target, version, headers, host, body })
}

/// `Expect: 100-continue` is the only expectation we meet; any other is a 417.
pub(crate) fn check_expect(headers: &Headers) -> Result<(), HeadError> {
    match headers.get_all("expect").all(|expect| expect.eq_ignore_ascii_case(b"100-continue")) {
        true => Ok(()),
        false => Err(HeadError::ExpectationFailed),
    }
}

/// Splits an absolute-form target into (origin-form target, authority).
fn split_target(method: &[u8], target: Bytes) -> Result<(Bytes, Option<Bytes>), HeadError> {
    match target.first() {
        Some(b'/') => Ok((target, None)),
        Some(b'*') if target.len() == 1 && method == b"OPTIONS" => Ok((target, None)),
        _ => {
            let lower_scheme =
                |scheme: &[u8]| target.len() > scheme.len() && target[..scheme.len()].eq_ignore_ascii_case(scheme);
            let after_scheme = if lower_scheme(b"http://") {
                7
            } else if lower_scheme(b"https://") {
                8
            } else {
                return Err(HeadError::Malformed("invalid request target"));
            };
            let rest = target.slice(after_scheme..);
            let end = rest.iter().position(|&b| b == b'/' || b == b'?').unwrap_or(rest.len());
            let authority = rest.slice(..end);
            if authority.is_empty() || authority.contains(&b'@') {
                return Err(HeadError::InvalidHost);
            }
            let path = match rest.get(end) {
                Some(b'/') => rest.slice(end..),
                Some(_) => Bytes::from([&b"/"[..], &rest[end..]].concat()),
                None => Bytes::from_static(b"/"),
            };
            Ok((path, Some(authority)))
        }
    }
}

/// The host of an authority (`Example.COM:8080` → `example.com`, `[::1]:80` → `[::1]`),
/// validated against the RFC 3986 reg-name / IP-literal character set.
pub fn host_of(authority: &[u8]) -> Result<String, HeadError> {
    let host = if authority.first() == Some(&b'[') {
        let close = memchr::memchr(b']', authority).ok_or(HeadError::InvalidHost)?;
        let (literal, port) = authority.split_at(close + 1);
        if !(port.is_empty() || (port[0] == b':' && port[1..].iter().all(u8::is_ascii_digit))) {
            return Err(HeadError::InvalidHost);
        }
        if !literal[1..close].iter().all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {
            return Err(HeadError::InvalidHost);
        }
        literal
    } else {
        let (host, port) = match memchr::memrchr(b':', authority) {
            Some(colon) => (&authority[..colon], &authority[colon + 1..]),
            None => (authority, &b""[..]),
        };
        if !port.iter().all(u8::is_ascii_digit) {
            return Err(HeadError::InvalidHost);
        }
        let reg_name = |b: &u8| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=%".contains(b);
        if host.is_empty() || !host.iter().all(reg_name) {
            return Err(HeadError::InvalidHost);
        }
        host
    };
    Ok(host.iter().map(|b| b.to_ascii_lowercase() as char).collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(raw: &[u8]) -> Result<Option<RequestHead>, HeadError> {
        RequestParser::new(HeadLimits::default()).parse(&mut BytesMut::from(raw))
    }

    #[test]
    fn parses_a_simple_request_and_leaves_the_rest() {
        let mut buf = BytesMut::from(&b"GET /a?b=1 HTTP/1.1\r\nHost: Example.com:8080\r\nX-A: 1\r\n\r\nGET /next"[..]);
        let head = RequestParser::new(HeadLimits::default()).parse(&mut buf).unwrap().unwrap();
        assert_eq!(&head.method[..], b"GET");
        assert_eq!(head.path(), b"/a");
        assert_eq!(head.host.as_deref(), Some("example.com"));
        assert_eq!(head.headers.len(), 2);
        assert_eq!(&buf[..], b"GET /next");
        assert!(head.keep_alive());
    }

    #[test]
    fn partial_heads_need_more() {
        assert!(parse(b"GET / HTTP/1.1\r\nHost: a\r\n").unwrap().is_none());
    }

    #[test]
    fn absolute_form_overrides_host() {
        let head = parse(b"GET http://Other.example/x?q HTTP/1.1\r\nHost: a\r\n\r\n").unwrap().unwrap();
        assert_eq!(&head.target[..], b"/x?q");
        assert_eq!(head.host.as_deref(), Some("other.example"));
        assert_eq!(head.headers.get("host").map(|v| &v[..]), Some(&b"Other.example"[..]));
        let head = parse(b"GET http://b.example?q HTTP/1.1\r\nHost: a\r\n\r\n").unwrap().unwrap();
        assert_eq!(&head.target[..], b"/?q");
    }

    #[test]
    fn rejects_bad_heads() {
        let cases: &[(&[u8], HeadError)] = &[
            (b"GET / HTTP/1.1\r\n\r\n", HeadError::MissingHost),
            (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", HeadError::MultipleHost),
            (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", HeadError::InvalidHost),
            (b"GET / HTTP/1.1\nHost: a\n\n", HeadError::Malformed("bare LF line ending")),
            (b"GET / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", HeadError::ExpectationFailed),
            (b"CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", HeadError::ConnectNotAllowed),
            (b"GET a HTTP/1.1\r\nHost: a\r\n\r\n", HeadError::Malformed("invalid request target")),
        ];
        for (raw, want) in cases {
            assert_eq!(parse(raw).err(), Some(*want), "{}", String::from_utf8_lossy(raw));
        }
        for raw in [
            &b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nX y: 1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nX : 1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n",
            b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
        ] {
            assert!(parse(raw).is_err(), "accepted {:?}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn limits() {
        let limits = HeadLimits { max_headers: 2, max_head_bytes: 64, max_request_line: 16 };
        let mut p = RequestParser::new(limits);
        let long_line = format!("GET /{} HTTP/1.1\r\n", "a".repeat(20));
        assert_eq!(p.parse(&mut BytesMut::from(long_line.as_bytes())).err(), Some(HeadError::RequestLineTooLong));
        assert_eq!(
            p.parse(&mut BytesMut::from(&b"GET /aaaaaaaaaaaaaaaaaaaaaaaaa"[..])).err(),
            Some(HeadError::RequestLineTooLong)
        );
        let many = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n";
        assert_eq!(p.parse(&mut BytesMut::from(&many[..])).err(), Some(HeadError::TooManyHeaders));
        let big = format!("GET / HTTP/1.1\r\nHost: a\r\nA: {}\r\n", "x".repeat(80));
        assert_eq!(p.parse(&mut BytesMut::from(big.as_bytes())).err(), Some(HeadError::HeadTooLarge));
    }
}
