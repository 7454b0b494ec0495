//! Why a head or body could not be parsed. Each kind maps to exactly one client status in
//! `crate::error`; the codec itself never builds responses.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadError {
    /// Syntax the parser refused (invalid token, bare CR, NUL, obs-fold, bad version...).
    Malformed(&'static str),
    RequestLineTooLong,
    HeadTooLarge,
    TooManyHeaders,
    /// Framing that two parsers could read differently: CL with TE, differing CLs,
    /// obfuscated codings, bad chunk sizes.
    AmbiguousFraming(&'static str),
    /// A transfer coding we do not implement (valid syntax, e.g. `gzip, chunked`).
    UnsupportedCoding,
    MissingHost,
    MultipleHost,
    InvalidHost,
    /// Authority-form targets (CONNECT): a gateway is not a forward proxy.
    ConnectNotAllowed,
    ExpectationFailed,
    BodyTooLarge,
    /// The peer closed the connection before the message was complete.
    Truncated,
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeadError::Malformed(what) => write!(f, "malformed message: {what}"),
            HeadError::RequestLineTooLong => f.write_str("request line too long"),
            HeadError::HeadTooLarge => f.write_str("header section too large"),
            HeadError::TooManyHeaders => f.write_str("too many header fields"),
            HeadError::AmbiguousFraming(what) => write!(f, "ambiguous message framing: {what}"),
            HeadError::UnsupportedCoding => f.write_str("unsupported transfer coding"),
            HeadError::MissingHost => f.write_str("missing Host header"),
            HeadError::MultipleHost => f.write_str("multiple Host headers"),
            HeadError::InvalidHost => f.write_str("invalid Host header"),
            HeadError::ConnectNotAllowed => f.write_str("CONNECT is not supported"),
            HeadError::ExpectationFailed => f.write_str("unsupported expectation"),
            HeadError::BodyTooLarge => f.write_str("body too large"),
            HeadError::Truncated => f.write_str("connection closed mid-message"),
        }
    }
}

impl std::error::Error for HeadError {}

pub(crate) fn from_httparse(err: httparse::Error) -> HeadError {
    match err {
        httparse::Error::TooManyHeaders => HeadError::TooManyHeaders,
        httparse::Error::HeaderName => HeadError::Malformed("invalid header name"),
        httparse::Error::HeaderValue => HeadError::Malformed("invalid header value"),
        httparse::Error::NewLine => HeadError::Malformed("invalid line ending"),
        httparse::Error::Status => HeadError::Malformed("invalid status"),
        httparse::Error::Token => HeadError::Malformed("invalid token"),
        httparse::Error::Version => HeadError::Malformed("invalid version"),
    }
}
