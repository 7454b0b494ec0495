//! Our own HTTP/1.1 codec, built on `httparse`.
//!
//! Everything here is sans-IO: functions take a buffer and return a parsed head, a body
//! chunk, or "need more bytes". The proxy owns the sockets and timeouts; keeping I/O out
//! makes every framing rule unit-testable and fuzzable on plain byte slices.
//!
//! Heads are parsed zero-copy: the head's bytes are split off the connection buffer and
//! frozen, and every name and value is a `Bytes` slice of that one allocation.

pub mod body;
pub mod chunked;
pub mod error;
pub mod framing;
mod head;
pub mod header;
pub mod hop_by_hop;
pub mod render;
pub mod request;
pub mod response;

pub use body::{BodyDecoder, BodyEvent};
pub use error::HeadError;
pub use framing::BodyKind;
pub use header::{Header, Headers};
pub use request::{RequestHead, RequestParser};
pub use response::ResponseHead;

/// The HTTP version a message arrived with. Heads from HTTP/2 streams use the same types,
/// so the phase chart (and every plugin) is the same for both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
    Http2,
}

impl Version {
    fn from_minor(minor: u8) -> Version {
        if minor == 0 {
            Version::Http10
        } else {
            Version::Http11
        }
    }

    pub fn as_bytes(self) -> &'static [u8] {
        self.name().as_bytes()
    }

    /// As text, for logs.
    pub fn name(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
            Version::Http2 => "HTTP/2",
        }
    }
}

/// Rejects a bare LF line ending anywhere in a head. httparse tolerates `\n` alone, but a
/// proxy that does while its origin does not (or vice versa) is a request-smuggling vector.
fn has_bare_lf(head: &[u8]) -> bool {
    memchr::memchr_iter(b'\n', head).any(|i| i == 0 || head[i - 1] != b'\r')
}
