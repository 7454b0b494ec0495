//! Response heads from origins. Every status from 100 to 999 is accepted and its reason
//! phrase kept byte for byte: real origins send 599–999 and custom phrases, and a proxy that
//! rewrites them breaks clients that depend on them (Pingora learned this in production).

use bytes::{Bytes, BytesMut};

use super::error::{from_httparse, HeadError};
use super::head::{self, Span};
use super::header::Headers;
use super::Version;

#[derive(Clone, Debug)]
pub struct ResponseHead {
    pub version: Version,
    pub status: u16,
    pub reason: Bytes,
    pub headers: Headers,
}

/// An empty head, only for moving a real one out (into a plugin's store) and back.
impl Default for ResponseHead {
    fn default() -> Self {
        ResponseHead::new(0, "")
    }
}

impl ResponseHead {
    pub fn new(status: u16, reason: &'static str) -> ResponseHead {
        ResponseHead {
            version: Version::Http11,
            status,
            reason: Bytes::from_static(reason.as_bytes()),
            headers: Headers::default(),
        }
    }

    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status)
    }

    /// Whether the origin allows the connection to be reused after this response.
    pub fn keep_alive(&self) -> bool {
        super::header::keep_alive(self.version, &self.headers)
    }
}

/// Parses one response head from the front of `buf` (`Ok(None)`: need more bytes).
pub fn parse(buf: &mut BytesMut, max_headers: usize, max_head_bytes: usize) -> Result<Option<ResponseHead>, HeadError> {
    let parsed = head::with_slots(max_headers, |slots| {
        let mut res = httparse::Response::new(&mut []);
        let status = httparse::ParserConfig::default()
            .parse_response_with_uninit_headers(&mut res, buf, slots)
            .map_err(from_httparse)?;
        let Some(len) = head::complete_len(status, buf.len(), max_head_bytes)? else {
            return Ok(None);
        };
        let spans: Vec<Span> = res.headers.iter().map(|field| Span::of(buf, field)).collect();
        Ok(Some((len, res.code.unwrap_or(0), res.version.unwrap_or(1), spans)))
    })?;
    let Some((len, status, minor, spans)) = parsed else { return Ok(None) };
    if !(100..=999).contains(&status) {
        return Err(HeadError::Malformed("status code out of range"));
    }
    let version = Version::from_minor(minor);
    let (head, headers) = head::freeze(buf, len, &spans, 2)?;
    let reason = reason_phrase(&head);
    Ok(Some(ResponseHead { version, status, reason, headers }))
}

/// The raw reason phrase: everything after `HTTP/1.x NNN ` up to CRLF (may be empty).
fn reason_phrase(head: &Bytes) -> Bytes {
    let start = head.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
    let line_end = start + memchr::memchr(b'\r', &head[start..]).unwrap_or(0);
    // "HTTP/1.1 200" is 12 bytes; the phrase starts after the following space.
    if line_end > start + 13 {
        head.slice(start + 13..line_end)
    } else {
        Bytes::new()
    }
}

/// The usual reason phrase for statuses a gateway or plugin makes up itself; empty (which
/// HTTP allows) for the rest.
pub fn canonical_reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        418 => "I'm a teapot",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn keeps_nonstandard_status_and_reason() {
        let mut buf =
            BytesMut::from(&b"HTTP/1.1 599 Network Connect Timeout \xe9rror\r\nContent-Length: 0\r\n\r\nrest"[..]);
        let head = parse(&mut buf, 100, 65536).unwrap().unwrap();
        assert_eq!(head.status, 599);
        assert_eq!(&head.reason[..], b"Network Connect Timeout \xe9rror");
        assert_eq!(&buf[..], b"rest");
        let mut buf = BytesMut::from(&b"HTTP/1.0 999\r\n\r\n"[..]);
        let head = parse(&mut buf, 100, 65536).unwrap().unwrap();
        assert_eq!((head.status, &head.reason[..]), (999, &b""[..]));
        assert!(!head.keep_alive());
    }

    #[test]
    fn rejects_garbage() {
        for raw in [
            &b"garbage\r\n\r\n"[..],
            b"HTTP/1.1 20 OK\r\n\r\n",
            b"HTTP/1.1 099 X\r\n\r\n",
            b"HTTP/1.1 200 OK\nA: b\n\n",
        ] {
            assert!(parse(&mut BytesMut::from(raw), 100, 65536).is_err(), "{raw:?}");
        }
        assert!(parse(&mut BytesMut::from(&b"HTTP/1.1 200 OK\r\nA: b"[..]), 100, 65536).unwrap().is_none());
    }
}
