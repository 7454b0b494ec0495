//! One decoder for every body framing, so the proxy streams bodies with a single loop.

use bytes::{Bytes, BytesMut};

use super::chunked::{Chunk, ChunkedDecoder};
use super::error::HeadError;
use super::framing::BodyKind;
use super::header::Headers;

#[derive(Debug, PartialEq, Eq)]
pub enum BodyEvent {
    Data(Bytes),
    /// The body is complete; chunked bodies may carry trailers.
    End(Option<Headers>),
}

#[derive(Debug)]
pub enum BodyDecoder {
    Length(u64),
    Chunked(ChunkedDecoder),
    UntilClose,
    /// All data delivered; the next call reports `End`.
    Ending,
    Done,
}

impl BodyDecoder {
    pub fn new(kind: BodyKind, max_trailer_bytes: usize) -> BodyDecoder {
        match kind {
            BodyKind::Empty | BodyKind::Length(0) => BodyDecoder::Ending,
            BodyKind::Length(n) => BodyDecoder::Length(n),
            BodyKind::Chunked => BodyDecoder::Chunked(ChunkedDecoder::new(max_trailer_bytes)),
            BodyKind::CloseDelimited => BodyDecoder::UntilClose,
        }
    }

    /// Whether every byte of the body has been delivered and only the (trailer-less) end
    /// remains.
    pub fn is_ending(&self) -> bool {
        matches!(self, BodyDecoder::Ending)
    }

    /// The next piece of body from `buf` (at most `max` bytes), or `Ok(None)` when more
    /// input is needed. Returns `End` exactly once.
    pub fn next(&mut self, buf: &mut BytesMut, max: usize) -> Result<Option<BodyEvent>, HeadError> {
        match self {
            BodyDecoder::Done => Ok(None),
            BodyDecoder::Ending => {
                *self = BodyDecoder::Done;
                Ok(Some(BodyEvent::End(None)))
            }
            BodyDecoder::Length(remaining) => {
                if buf.is_empty() {
                    return Ok(None);
                }
                let take = (*remaining).min(buf.len() as u64).min(max as u64) as usize;
                let data = buf.split_to(take).freeze();
                *remaining -= take as u64;
                if *remaining == 0 {
                    *self = BodyDecoder::Ending;
                }
                Ok(Some(BodyEvent::Data(data)))
            }
            BodyDecoder::Chunked(dec) => match dec.decode(buf, max)? {
                Some(Chunk::Data(data)) => Ok(Some(BodyEvent::Data(data))),
                Some(Chunk::End(trailers)) => {
                    *self = BodyDecoder::Done;
                    Ok(Some(BodyEvent::End(Some(trailers))))
                }
                None => Ok(None),
            },
            BodyDecoder::UntilClose => {
                if buf.is_empty() {
                    return Ok(None);
                }
                let take = buf.len().min(max);
                Ok(Some(BodyEvent::Data(buf.split_to(take).freeze())))
            }
        }
    }

    /// The peer closed its side. Only a close-delimited body ends this way; for any
    /// other framing a close is truncation and must not be passed off as complete.
    pub fn on_eof(&mut self) -> Result<BodyEvent, HeadError> {
        match self {
            BodyDecoder::UntilClose | BodyDecoder::Ending => {
                *self = BodyDecoder::Done;
                Ok(BodyEvent::End(None))
            }
            _ => Err(HeadError::Truncated),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn drain(kind: BodyKind, input: &[u8]) -> (Vec<u8>, usize, BytesMut) {
        let mut dec = BodyDecoder::new(kind, 1024);
        let mut buf = BytesMut::from(input);
        let (mut body, mut ends) = (Vec::new(), 0);
        while let Some(event) = dec.next(&mut buf, 4).unwrap() {
            match event {
                BodyEvent::Data(d) => body.extend_from_slice(&d),
                BodyEvent::End(_) => ends += 1,
            }
        }
        (body, ends, buf)
    }

    #[test]
    fn length_body_stops_at_its_length_and_ends_once() {
        let (body, ends, rest) = drain(BodyKind::Length(10), b"0123456789GET /next");
        assert_eq!((&body[..], ends, &rest[..]), (&b"0123456789"[..], 1, &b"GET /next"[..]));
        let (body, ends, _) = drain(BodyKind::Empty, b"GET");
        assert_eq!((body.len(), ends), (0, 1));
    }

    #[test]
    fn eof_ends_only_close_delimited_bodies() {
        assert!(BodyDecoder::new(BodyKind::CloseDelimited, 0).on_eof().is_ok());
        assert_eq!(BodyDecoder::new(BodyKind::Length(3), 0).on_eof(), Err(HeadError::Truncated));
        assert_eq!(BodyDecoder::new(BodyKind::Chunked, 0).on_eof(), Err(HeadError::Truncated));
    }
}
