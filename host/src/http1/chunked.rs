//! The chunked transfer coding (RFC 9112 §7.1), decoded strictly: the size line, the CRLF
//! after each chunk and the trailer section must be exactly right, because a lenient
//! decoder in front of a differently-lenient origin is how chunk smuggling works.

use bytes::{Bytes, BytesMut};

use super::error::HeadError;
use super::header::{Header, Headers};

/// Longest chunk-size line we accept, extensions included.
const MAX_SIZE_LINE: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
    Done,
}

/// What one decoding step produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk {
    Data(Bytes),
    /// The last chunk and its (possibly empty) trailer section.
    End(Headers),
}

#[derive(Debug)]
pub struct ChunkedDecoder {
    state: State,
    max_trailer_bytes: usize,
}

impl ChunkedDecoder {
    pub fn new(max_trailer_bytes: usize) -> ChunkedDecoder {
        ChunkedDecoder { state: State::Size, max_trailer_bytes }
    }

    /// Decodes from the front of `buf`, returning at most `max` data bytes at a time.
    /// `Ok(None)` means more input is needed.
    pub fn decode(&mut self, buf: &mut BytesMut, max: usize) -> Result<Option<Chunk>, HeadError> {
        loop {
            match self.state {
                State::Size => {
                    let Some(lf) = memchr::memchr(b'\n', &buf[..buf.len().min(MAX_SIZE_LINE)]) else {
                        if buf.len() >= MAX_SIZE_LINE {
                            return Err(bad("chunk size line too long"));
                        }
                        return Ok(None);
                    };
                    let size = parse_size_line(&buf[..lf])?;
                    let _ = buf.split_to(lf + 1);
                    self.state = if size == 0 { State::Trailers } else { State::Data(size) };
                }
                State::Data(remaining) => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let take = remaining.min(buf.len() as u64).min(max as u64) as usize;
                    let data = buf.split_to(take).freeze();
                    let left = remaining - take as u64;
                    self.state = if left == 0 { State::DataEnd } else { State::Data(left) };
                    return Ok(Some(Chunk::Data(data)));
                }
                State::DataEnd => {
                    if buf.len() < 2 {
                        if buf.first().is_some_and(|&b| b != b'\r') {
                            return Err(bad("missing CRLF after chunk data"));
                        }
                        return Ok(None);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(bad("missing CRLF after chunk data"));
                    }
                    let _ = buf.split_to(2);
                    self.state = State::Size;
                }
                State::Trailers => {
                    let Some(trailers) = self.parse_trailers(buf)? else {
                        return Ok(None);
                    };
                    self.state = State::Done;
                    return Ok(Some(Chunk::End(trailers)));
                }
                State::Done => return Ok(None),
            }
        }
    }

    fn parse_trailers(&self, buf: &mut BytesMut) -> Result<Option<Headers>, HeadError> {
        if buf.starts_with(b"\r\n") {
            let _ = buf.split_to(2);
            return Ok(Some(Headers::default()));
        }
        let mut slots = [httparse::EMPTY_HEADER; 32];
        let (len, fields) = match httparse::parse_headers(buf, &mut slots) {
            Ok(httparse::Status::Complete((len, fields))) if len <= self.max_trailer_bytes => (len, fields),
            Ok(httparse::Status::Partial) if buf.len() <= self.max_trailer_bytes => return Ok(None),
            Ok(_) => return Err(bad("trailer section too large")),
            Err(httparse::Error::TooManyHeaders) => return Err(bad("too many trailer fields")),
            Err(_) => return Err(bad("malformed trailer section")),
        };
        if super::has_bare_lf(&buf[..len]) {
            return Err(bad("bare LF in trailer section"));
        }
        // Trailers are rare and small: copying them keeps this path simple.
        let mut trailers = Headers::with_capacity(fields.len());
        for f in fields.iter() {
            trailers.push(Header::new(Bytes::copy_from_slice(f.name.as_bytes()), Bytes::copy_from_slice(f.value)));
        }
        let _ = buf.split_to(len);
        Ok(Some(trailers))
    }
}

fn bad(what: &'static str) -> HeadError {
    HeadError::AmbiguousFraming(what)
}

/// `1*HEXDIG [ ";" ext ] CRLF`, with at most 16 hex digits so the size fits in u64.
fn parse_size_line(line: &[u8]) -> Result<u64, HeadError> {
    let line = line.strip_suffix(b"\r").ok_or(bad("bare LF after chunk size"))?;
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 || digits > 16 {
        return Err(bad("invalid chunk size"));
    }
    let rest = &line[digits..];
    match rest.first() {
        None => {}
        // Extensions are ignored, but must not smuggle control bytes (bare CR, NUL...).
        Some(b';' | b' ' | b'\t') => {
            let ext_start = rest.iter().position(|&b| b == b';').ok_or(bad("invalid chunk size"))?;
            if !rest[..ext_start].iter().all(|&b| b == b' ' || b == b'\t') {
                return Err(bad("invalid chunk size"));
            }
            if rest[ext_start..].iter().any(|&b| b < 0x20 && b != b'\t' || b == 0x7f) {
                return Err(bad("invalid chunk extension"));
            }
        }
        Some(_) => return Err(bad("invalid chunk size")),
    }
    line[..digits]
        .iter()
        .try_fold(0u64, |acc, &b| {
            let digit = (b as char).to_digit(16)?;
            Some((acc << 4) | u64::from(digit))
        })
        .ok_or(bad("invalid chunk size"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Decodes `input` fed one byte at a time, to exercise every "need more" boundary.
    fn decode_bytewise(input: &[u8]) -> Result<(Vec<u8>, Headers), HeadError> {
        let mut dec = ChunkedDecoder::new(1024);
        let mut buf = BytesMut::new();
        let mut body = Vec::new();
        for &b in input {
            buf.extend_from_slice(&[b]);
            while let Some(chunk) = dec.decode(&mut buf, 3)? {
                match chunk {
                    Chunk::Data(d) => body.extend_from_slice(&d),
                    Chunk::End(t) => return Ok((body, t)),
                }
            }
        }
        Err(HeadError::Truncated)
    }

    #[test]
    fn decodes_chunks_extensions_and_trailers() {
        let (body, trailers) =
            decode_bytewise(b"5;name=v\r\nhello\r\nB ; x\r\n 0123456789\r\n0\r\nGrpc-Status: 0\r\n\r\n").unwrap();
        assert_eq!(body, b"hello 0123456789");
        assert_eq!(trailers.get("grpc-status").map(|v| &v[..]), Some(&b"0"[..]));
        let (body, trailers) = decode_bytewise(b"0\r\n\r\n").unwrap();
        assert!(body.is_empty() && trailers.is_empty());
    }

    #[test]
    fn refuses_bad_chunk_framing() {
        for raw in [
            &b"x\r\nabc"[..],
            b"-1\r\n",
            b"0x5\r\nhello\r\n0\r\n\r\n",
            b"5\nhello\r\n0\r\n\r\n",
            b"5\r\nhelloXX0\r\n\r\n",
            b"5\r\nhello\n0\r\n\r\n",
            b"11111111111111111\r\n",
            b"5;a\0b\r\nhello\r\n",
            b"5 x\r\nhello\r\n",
            b"0\r\nbad trailer\r\n\r\n",
        ] {
            assert!(decode_bytewise(raw).is_err_and(|e| e != HeadError::Truncated), "accepted {raw:?}");
        }
    }

    #[test]
    fn max_size_fits() {
        assert_eq!(parse_size_line(b"ffffffffffffffff\r"), Ok(u64::MAX));
    }
}
