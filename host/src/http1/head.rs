//! What request and response parsing share: header slots for httparse, the "need more or
//! too large" decision, and turning a parsed head into one frozen buffer whose field names
//! and values are zero-copy slices.

use std::mem::MaybeUninit;

use bytes::{Bytes, BytesMut};

use super::error::HeadError;
use super::header::{Header, Headers};

/// Header slots live on the stack up to this count; larger limits fall back to the heap.
const STACK_SLOTS: usize = 128;

/// Runs `parse` with `max` uninitialised header slots. Uninitialised, because zeroing 128
/// slots would cost a 4 KiB memset per head.
pub(crate) fn with_slots<'b, R>(max: usize, parse: impl FnOnce(&mut [MaybeUninit<httparse::Header<'b>>]) -> R) -> R {
    let mut stack = [const { MaybeUninit::<httparse::Header<'b>>::uninit() }; STACK_SLOTS];
    if max <= STACK_SLOTS {
        parse(&mut stack[..max])
    } else {
        let mut heap = Vec::new();
        heap.resize_with(max, MaybeUninit::uninit);
        parse(&mut heap)
    }
}

/// The head's length once complete; `None` while more bytes may still complete it within
/// `max_head_bytes` (`buffered` is what the buffer holds so far).
pub(crate) fn complete_len(
    status: httparse::Status<usize>,
    buffered: usize,
    max_head_bytes: usize,
) -> Result<Option<usize>, HeadError> {
    match status {
        httparse::Status::Complete(len) if len <= max_head_bytes => Ok(Some(len)),
        httparse::Status::Partial if buffered <= max_head_bytes => Ok(None),
        _ => Err(HeadError::HeadTooLarge),
    }
}

/// Byte offsets of one field inside the head, recorded while httparse borrows the buffer.
#[derive(Clone, Copy)]
pub(crate) struct Span {
    name: (usize, usize),
    value: (usize, usize),
}

impl Span {
    pub(crate) fn of(buf: &[u8], field: &httparse::Header<'_>) -> Span {
        Span { name: offsets(buf, field.name.as_bytes()), value: offsets(buf, field.value) }
    }
}

/// Where `part` (a subslice of `buf`) starts and ends within `buf`.
pub(crate) fn offsets(buf: &[u8], part: &[u8]) -> (usize, usize) {
    let start = part.as_ptr() as usize - buf.as_ptr() as usize;
    (start, start + part.len())
}

/// Splits the first `len` bytes off `buf` as the frozen head, refuses bare LF line endings
/// (httparse tolerates them; a proxy that does while its origin does not can be smuggled
/// through), and builds the field list from `spans`, leaving room for `spare` more fields.
pub(crate) fn freeze(
    buf: &mut BytesMut,
    len: usize,
    spans: &[Span],
    spare: usize,
) -> Result<(Bytes, Headers), HeadError> {
    let head = buf.split_to(len).freeze();
    if super::has_bare_lf(&head) {
        return Err(HeadError::Malformed("bare LF line ending"));
    }
    let mut headers = Headers::with_capacity(spans.len() + spare);
    for span in spans {
        headers
            .push(Header { name: head.slice(span.name.0..span.name.1), value: head.slice(span.value.0..span.value.1) });
    }
    Ok((head, headers))
}
