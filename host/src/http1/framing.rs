//! Message body length (RFC 9112 §6.3), decided once per head with zero tolerance for
//! ambiguity: whenever two implementations could disagree on where a body ends, the
//! message is refused instead of guessed at. That is what closes request smuggling.

use super::error::HeadError;
use super::header::{tokens, Headers};

/// How a message body is delimited on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// No body at all (GET without framing headers, HEAD/204/304 responses, 1xx).
    Empty,
    Length(u64),
    Chunked,
    /// Responses only: the body runs until the origin closes the connection.
    CloseDelimited,
}

impl BodyKind {
    pub fn is_empty(self) -> bool {
        matches!(self, BodyKind::Empty | BodyKind::Length(0))
    }
}

/// Framing of a request body. A request without Content-Length or Transfer-Encoding has
/// no body; it can never be close-delimited.
pub fn request_body(headers: &Headers, http10: bool) -> Result<BodyKind, HeadError> {
    let te = transfer_encoding(headers)?;
    let cl = content_length(headers)?;
    match (te, cl) {
        (Some(_), Some(_)) => Err(HeadError::AmbiguousFraming("Content-Length with Transfer-Encoding")),
        // HTTP/1.0 has no chunked coding; a 1.0 message carrying one is a smuggling probe.
        (Some(_), None) if http10 => Err(HeadError::AmbiguousFraming("Transfer-Encoding in HTTP/1.0")),
        (Some(Coding::Chunked), None) => Ok(BodyKind::Chunked),
        (Some(Coding::Unsupported), None) => Err(HeadError::UnsupportedCoding),
        (None, None) => Ok(BodyKind::Empty),
        (None, Some(n)) => Ok(BodyKind::Length(n)),
    }
}

/// Framing of a response body, given the request method and status.
pub fn response_body(headers: &Headers, status: u16, head_request: bool) -> Result<BodyKind, HeadError> {
    // Parse even when the body is known to be empty: conflicting framing from an origin
    // means it is confused, and we do not forward a confused origin's reply.
    let te = transfer_encoding(headers)?;
    let cl = content_length(headers)?;
    if te.is_some() && cl.is_some() {
        return Err(HeadError::AmbiguousFraming("Content-Length with Transfer-Encoding"));
    }
    if head_request || (100..200).contains(&status) || status == 204 || status == 304 {
        return Ok(BodyKind::Empty);
    }
    match (te, cl) {
        (Some(Coding::Chunked), _) => Ok(BodyKind::Chunked),
        (Some(Coding::Unsupported), _) => Err(HeadError::UnsupportedCoding),
        (None, Some(n)) => Ok(BodyKind::Length(n)),
        (None, None) => Ok(BodyKind::CloseDelimited),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Coding {
    Chunked,
    Unsupported,
}

/// Transfer-Encoding across all its field lines. Only exactly `chunked` is accepted as a
/// body framing: `chunked` must be the final coding and appear once; anything that is not a
/// clean token (`chunked\x0b`, `"chunked"`, `chunked;q=1`, `xchunked`) is obfuscation.
fn transfer_encoding(headers: &Headers) -> Result<Option<Coding>, HeadError> {
    let mut seen = false;
    let mut codings = 0usize;
    let mut chunked_last = false;
    for value in headers.get_all("transfer-encoding") {
        seen = true;
        for token in tokens(value) {
            if !token.iter().all(|&b| is_tchar(b)) {
                return Err(HeadError::AmbiguousFraming("obfuscated Transfer-Encoding"));
            }
            codings += 1;
            let chunked = token.eq_ignore_ascii_case(b"chunked");
            if chunked && chunked_last {
                return Err(HeadError::AmbiguousFraming("chunked applied twice"));
            }
            chunked_last = chunked;
            if !chunked && !is_known_coding(token) {
                return Err(HeadError::AmbiguousFraming("unknown transfer coding"));
            }
        }
    }
    if !seen {
        return Ok(None);
    }
    if codings == 0 {
        return Err(HeadError::AmbiguousFraming("empty Transfer-Encoding"));
    }
    if codings == 1 && chunked_last {
        Ok(Some(Coding::Chunked))
    } else if chunked_last {
        // e.g. `gzip, chunked`: well-formed, but we would have to forward a coding we
        // cannot inspect; refuse rather than pass something plugins cannot see.
        Ok(Some(Coding::Unsupported))
    } else {
        Err(HeadError::AmbiguousFraming("chunked is not the final transfer coding"))
    }
}

fn is_known_coding(token: &[u8]) -> bool {
    ["gzip", "x-gzip", "deflate", "compress", "x-compress", "identity"]
        .iter()
        .any(|c| token.eq_ignore_ascii_case(c.as_bytes()))
}

/// Content-Length across all field lines and list elements; every element must be the same
/// plain decimal number (`+5`, `0x5`, ` 5 6`, and `5, 6` are refused).
fn content_length(headers: &Headers) -> Result<Option<u64>, HeadError> {
    let mut found: Option<u64> = None;
    for value in headers.get_all("content-length") {
        // `split` yields at least one element, so an empty value fails `parse_decimal`.
        for element in value.split(|&b| b == b',') {
            let element = super::header::trim_ows(element);
            let n = parse_decimal(element).ok_or(HeadError::AmbiguousFraming("invalid Content-Length"))?;
            if found.is_some_and(|f| f != n) {
                return Err(HeadError::AmbiguousFraming("conflicting Content-Length values"));
            }
            found = Some(n);
        }
    }
    Ok(found)
}

/// A non-empty run of ASCII digits that fits in u64.
pub(crate) fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &b| {
        let digit = (b as char).to_digit(10)?;
        acc.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// RFC 9110 `tchar`.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http1::header::Header;

    fn headers(fields: &[(&'static str, &'static str)]) -> Headers {
        let mut h = Headers::default();
        for (n, v) in fields {
            h.push(Header::new(*n, *v));
        }
        h
    }

    #[test]
    fn request_framing() {
        assert_eq!(request_body(&headers(&[]), false), Ok(BodyKind::Empty));
        assert_eq!(request_body(&headers(&[("Content-Length", "5")]), false), Ok(BodyKind::Length(5)));
        assert_eq!(
            request_body(&headers(&[("content-length", "5"), ("Content-Length", "5, 5")]), false),
            Ok(BodyKind::Length(5))
        );
        assert_eq!(request_body(&headers(&[("Transfer-Encoding", "Chunked")]), false), Ok(BodyKind::Chunked));
        assert_eq!(
            request_body(&headers(&[("Transfer-Encoding", "gzip, chunked")]), false),
            Err(HeadError::UnsupportedCoding)
        );
    }

    #[test]
    fn request_smuggling_shapes_are_refused() {
        let bad: &[&[(&'static str, &'static str)]] = &[
            &[("Content-Length", "5"), ("Transfer-Encoding", "chunked")],
            &[("Content-Length", "5"), ("Content-Length", "6")],
            &[("Content-Length", "5, 6")],
            &[("Content-Length", "+5")],
            &[("Content-Length", "0x5")],
            &[("Content-Length", "")],
            &[("Content-Length", "5 5")],
            &[("Content-Length", "99999999999999999999")],
            &[("Transfer-Encoding", "chunked, identity")],
            &[("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")],
            &[("Transfer-Encoding", "xchunked")],
            &[("Transfer-Encoding", "\"chunked\"")],
            &[("Transfer-Encoding", "chunked;q=1")],
            &[("Transfer-Encoding", "")],
            &[("Transfer-Encoding", "chunked\x0b")],
        ];
        for fields in bad {
            let got = request_body(&headers(fields), false);
            assert!(matches!(got, Err(HeadError::AmbiguousFraming(_))), "{fields:?} gave {got:?}");
        }
        assert!(request_body(&headers(&[("Transfer-Encoding", "chunked")]), true).is_err());
    }

    #[test]
    fn response_framing() {
        let none = headers(&[]);
        assert_eq!(response_body(&none, 200, false), Ok(BodyKind::CloseDelimited));
        assert_eq!(response_body(&none, 204, false), Ok(BodyKind::Empty));
        assert_eq!(response_body(&none, 304, false), Ok(BodyKind::Empty));
        assert_eq!(response_body(&none, 103, false), Ok(BodyKind::Empty));
        let cl = headers(&[("Content-Length", "10")]);
        assert_eq!(response_body(&cl, 200, true), Ok(BodyKind::Empty));
        assert_eq!(response_body(&cl, 599, false), Ok(BodyKind::Length(10)));
        let both = headers(&[("Content-Length", "10"), ("Transfer-Encoding", "chunked")]);
        assert!(response_body(&both, 200, false).is_err());
        assert!(response_body(&both, 204, false).is_err());
    }
}
