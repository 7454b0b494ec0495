//! The one place where failures become what a client sees.
//!
//! Handlers return a typed `ProxyError`; only `ProxyError::status` and `error_response`
//! decide the status code and the short plain-text body. Nothing else in the host builds
//! an error page.

use bytes::{Bytes, BytesMut};

use crate::http1::{render, HeadError, ResponseHead};

/// Where a failure came from, which decides its status and whether a retry is safe.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The client sent something we refuse.
    #[error("bad request: {0}")]
    Client(HeadError),
    /// The client was too slow sending its head or body.
    #[error("client timed out")]
    ClientTimeout,
    #[error("no route matches the request")]
    NoRoute,
    /// Every endpoint refused or failed the connection.
    #[error("upstream `{upstream}` unreachable: {detail}")]
    UpstreamConnect { upstream: String, detail: String },
    #[error("upstream `{upstream}` connect timed out")]
    UpstreamConnectTimeout { upstream: String },
    #[error("upstream timed out")]
    UpstreamTimeout,
    /// The origin answered with bytes we cannot forward faithfully.
    #[error("upstream sent an invalid response: {0}")]
    UpstreamInvalid(HeadError),
    /// `server.max_connections` reached.
    #[error("too many connections")]
    Overloaded,
    /// The origin closed or reset the connection before a complete response head.
    #[error("upstream closed the connection: {0}")]
    UpstreamClosed(String),
    /// A `fail-closed` plugin trapped, broke the rules of the contract, or returned a reply
    /// or upstream name that cannot be used.
    #[error("plugin `{plugin}` failed in {phase}")]
    PluginFailed { plugin: String, phase: &'static str },
}

impl ProxyError {
    /// The status code and reason phrase for this error.
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            ProxyError::Client(kind) => match kind {
                HeadError::RequestLineTooLong => (414, "URI Too Long"),
                HeadError::HeadTooLarge | HeadError::TooManyHeaders => (431, "Request Header Fields Too Large"),
                HeadError::UnsupportedCoding => (501, "Not Implemented"),
                HeadError::ConnectNotAllowed => (405, "Method Not Allowed"),
                HeadError::ExpectationFailed => (417, "Expectation Failed"),
                HeadError::BodyTooLarge => (413, "Content Too Large"),
                HeadError::Malformed(_)
                | HeadError::AmbiguousFraming(_)
                | HeadError::MissingHost
                | HeadError::MultipleHost
                | HeadError::InvalidHost
                | HeadError::Truncated => (400, "Bad Request"),
            },
            ProxyError::ClientTimeout => (408, "Request Timeout"),
            ProxyError::NoRoute => (404, "Not Found"),
            ProxyError::Overloaded => (503, "Service Unavailable"),
            ProxyError::UpstreamConnect { .. } | ProxyError::UpstreamInvalid(_) | ProxyError::UpstreamClosed(_) => {
                (502, "Bad Gateway")
            }
            ProxyError::UpstreamConnectTimeout { .. } | ProxyError::UpstreamTimeout => (504, "Gateway Timeout"),
            ProxyError::PluginFailed { .. } => (500, "Internal Server Error"),
        }
    }

    /// The body line a client sees: what went wrong, never where (no origin addresses).
    fn public_detail(&self) -> String {
        match self {
            ProxyError::Client(kind) => kind.to_string(),
            ProxyError::ClientTimeout => "request not received in time".into(),
            ProxyError::NoRoute => "no route for this host and path".into(),
            ProxyError::Overloaded => "too many connections, try again later".into(),
            ProxyError::UpstreamConnect { .. } => "could not connect to the origin".into(),
            ProxyError::UpstreamConnectTimeout { .. } => "timed out connecting to the origin".into(),
            ProxyError::UpstreamTimeout => "the origin did not respond in time".into(),
            ProxyError::UpstreamInvalid(_) => "the origin sent an invalid response".into(),
            ProxyError::UpstreamClosed(_) => "the origin closed the connection".into(),
            ProxyError::PluginFailed { .. } => "the gateway could not process the request".into(),
        }
    }
}

/// The error response's head and body, for any protocol.
pub fn error_parts(err: &ProxyError, via: Option<&str>) -> (ResponseHead, Bytes) {
    let (status, reason) = err.status();
    let body = format!("{status} {reason}: {}\n", err.public_detail());
    let mut head = ResponseHead::new(status, reason);
    head.headers.append(Bytes::from_static(b"Content-Type"), Bytes::from_static(b"text/plain; charset=utf-8"));
    if let Some(via) = via {
        head.headers.append(Bytes::from_static(b"Via"), Bytes::from(format!("1.1 {via}")));
    }
    (head, Bytes::from(body))
}

/// Renders the complete HTTP/1.1 error response (head and body). Error responses always
/// close the connection: after a framing or timeout error the stream position is unknown.
pub fn error_response(err: &ProxyError, via: Option<&str>) -> BytesMut {
    let (head, body) = error_parts(err, via);
    let mut out = BytesMut::with_capacity(256);
    render::response(&head, Some(crate::http1::BodyKind::Length(body.len() as u64)), true, &mut out);
    out.extend_from_slice(&body);
    out
}
