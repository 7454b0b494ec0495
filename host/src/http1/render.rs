//! Serialising heads and chunk framing. Heads are written into one buffer and sent with a
//! single write; names keep their original case.

use bytes::{BufMut, BytesMut};

use super::framing::BodyKind;
use super::header::Headers;
use super::request::RequestHead;
use super::response::ResponseHead;

/// Renders the request line and fields as forwarded to an origin, with our own framing.
pub fn request(head: &RequestHead, framing: BodyKind, out: &mut BytesMut) {
    out.reserve(estimate(&head.headers) + head.target.len() + 64);
    out.put_slice(&head.method);
    out.put_u8(b' ');
    out.put_slice(&head.target);
    out.put_slice(b" HTTP/1.1\r\n");
    fields(&head.headers, out);
    framing_field(framing, out);
    out.put_slice(b"\r\n");
}

/// Renders a response head for a client. `close` adds `Connection: close`.
pub fn response(head: &ResponseHead, framing: Option<BodyKind>, close: bool, out: &mut BytesMut) {
    out.reserve(estimate(&head.headers) + head.reason.len() + 64);
    out.put_slice(b"HTTP/1.1 ");
    let mut digits = itoa::Buffer::new();
    out.put_slice(digits.format(head.status).as_bytes());
    out.put_u8(b' ');
    out.put_slice(&head.reason);
    out.put_slice(b"\r\n");
    fields(&head.headers, out);
    if let Some(framing) = framing {
        framing_field(framing, out);
    }
    if close {
        out.put_slice(b"Connection: close\r\n");
    }
    out.put_slice(b"\r\n");
}

/// The size line of one chunk.
pub fn chunk_size(len: usize, out: &mut BytesMut) {
    let mut digits = [0u8; 16];
    let mut at = digits.len();
    let mut n = len;
    loop {
        at -= 1;
        digits[at] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&digits[at..]);
    out.put_slice(b"\r\n");
}

/// The last chunk and trailer section.
pub fn last_chunk(trailers: Option<&Headers>, out: &mut BytesMut) {
    out.put_slice(b"0\r\n");
    if let Some(trailers) = trailers {
        fields(trailers, out);
    }
    out.put_slice(b"\r\n");
}

fn estimate(headers: &Headers) -> usize {
    headers.iter().map(|h| h.name.len() + h.value.len() + 4).sum()
}

fn fields(headers: &Headers, out: &mut BytesMut) {
    for h in headers {
        out.put_slice(&h.name);
        out.put_slice(b": ");
        out.put_slice(&h.value);
        out.put_slice(b"\r\n");
    }
}

fn framing_field(framing: BodyKind, out: &mut BytesMut) {
    match framing {
        BodyKind::Length(n) => {
            out.put_slice(b"Content-Length: ");
            let mut digits = itoa::Buffer::new();
            out.put_slice(digits.format(n).as_bytes());
            out.put_slice(b"\r\n");
        }
        BodyKind::Chunked => out.put_slice(b"Transfer-Encoding: chunked\r\n"),
        BodyKind::Empty | BodyKind::CloseDelimited => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes_are_lower_hex() {
        for (n, want) in [(0, "0\r\n"), (10, "a\r\n"), (4096, "1000\r\n"), (usize::MAX, "ffffffffffffffff\r\n")] {
            let mut out = BytesMut::new();
            chunk_size(n, &mut out);
            assert_eq!(&out[..], want.as_bytes());
        }
    }
}
