//! Between the `http` types the `h2` crate speaks and our heads. A request arriving on an
//! HTTP/2 stream becomes the same `RequestHead` an HTTP/1.1 client's would, so routing,
//! scrubbing, limits and every plugin phase run unchanged.

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::http1::request::host_of;
use crate::http1::response::canonical_reason;
use crate::http1::{BodyKind, HeadError, Header, Headers, RequestHead, ResponseHead, Version};

/// The head of a request stream. `end_of_stream`: the HEADERS frame ended the stream (no
/// body). Fails as an HTTP/1.1 head would (a 400 or 431 for the stream).
pub(crate) fn request_head(
    parts: http::request::Parts,
    end_of_stream: bool,
    max_headers: usize,
) -> Result<RequestHead, HeadError> {
    if parts.method == http::Method::CONNECT {
        return Err(HeadError::ConnectNotAllowed);
    }
    if parts.headers.len() > max_headers {
        return Err(HeadError::TooManyHeaders);
    }
    let target = match parts.uri.path_and_query() {
        Some(pq) if !pq.as_str().is_empty() => Bytes::copy_from_slice(pq.as_str().as_bytes()),
        _ => return Err(HeadError::Malformed("missing :path")),
    };
    let mut headers = headers_from_map(&parts.headers);
    // Cookies may arrive split into several fields for better compression; an HTTP/1.1
    // origin must see one (RFC 9113 §8.2.3).
    if headers.count("cookie") > 1 {
        let mut joined = BytesMut::new();
        headers.join_into("cookie", b"; ", &mut joined);
        headers.set("cookie", joined.freeze());
    }
    let authority = parts.uri.authority().map(|a| Bytes::copy_from_slice(a.as_str().as_bytes()));
    let host = match (&authority, headers.get("host")) {
        (Some(authority), Some(host)) if !authority.eq_ignore_ascii_case(host) => {
            return Err(HeadError::Malformed("Host differs from :authority"));
        }
        (Some(authority), _) => {
            let host = host_of(authority)?;
            if !headers.contains("host") {
                // HTTP/1.1 origins need Host; :authority is its HTTP/2 form.
                headers.append(Bytes::from_static(b"host"), authority.clone());
            }
            Some(host)
        }
        (None, Some(host)) => Some(host_of(host)?),
        (None, None) => return Err(HeadError::MissingHost),
    };
    if headers.count("host") > 1 {
        return Err(HeadError::MultipleHost);
    }
    crate::http1::request::check_expect(&headers)?;
    let body = if end_of_stream { BodyKind::Empty } else { declared_length(&headers)?.unwrap_or(BodyKind::Chunked) };
    let method = Bytes::copy_from_slice(parts.method.as_str().as_bytes());
    Ok(RequestHead { method, target, version: Version::Http2, headers, host, body })
}

/// The head of an origin's HTTP/2 response.
pub(crate) fn response_head(parts: &http::response::Parts) -> ResponseHead {
    let status = parts.status.as_u16();
    let mut head = ResponseHead::new(status, canonical_reason(status));
    head.version = Version::Http2;
    head.headers = headers_from_map(&parts.headers);
    head
}

/// How an origin's HTTP/2 response body is framed, in HTTP/1.1 terms: what a 1.1 client
/// will be told. HTTP/2 itself checks that the data matches a `content-length`.
pub(crate) fn response_framing(head: &ResponseHead, is_head: bool, end_of_stream: bool) -> Result<BodyKind, HeadError> {
    if is_head || head.status == 204 || head.status == 304 {
        return Ok(BodyKind::Empty);
    }
    if end_of_stream {
        return Ok(BodyKind::Length(0));
    }
    Ok(declared_length(&head.headers)?.unwrap_or(BodyKind::Chunked))
}

fn declared_length(headers: &Headers) -> Result<Option<BodyKind>, HeadError> {
    let mut lengths = headers.get_all("content-length");
    let Some(first) = lengths.next() else { return Ok(None) };
    if lengths.any(|other| other != first) {
        return Err(HeadError::AmbiguousFraming("differing content-length values"));
    }
    let digits = std::str::from_utf8(first).ok().filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
    let n = digits.and_then(|d| d.parse::<u64>().ok()).ok_or(HeadError::AmbiguousFraming("invalid content-length"))?;
    Ok(Some(BodyKind::Length(n)))
}

/// A request for an HTTP/2 origin. `:authority` comes from Host (or `fallback`, the
/// endpoint), and `te: trailers` is always sent: we pass trailers through, and gRPC origins
/// refuse requests without it.
pub(crate) fn origin_request(req: &RequestHead, scheme: &str, fallback: &str) -> Result<http::Request<()>, HeadError> {
    let authority = req.headers.get("host").map_or(fallback.as_bytes(), |h| &h[..]);
    let uri = http::Uri::builder()
        .scheme(scheme)
        .authority(authority)
        .path_and_query(&req.target[..])
        .build()
        .map_err(|_| HeadError::Malformed("request target not valid for HTTP/2"))?;
    let mut request = http::Request::builder()
        .method(&req.method[..])
        .uri(uri)
        .version(http::Version::HTTP_2)
        .body(())
        .map_err(|_| HeadError::Malformed("method not valid for HTTP/2"))?;
    *request.headers_mut() = header_map(&req.headers);
    request.headers_mut().remove(http::header::HOST);
    request.headers_mut().insert(http::header::TE, HeaderValue::from_static("trailers"));
    Ok(request)
}

/// A response for an HTTP/2 client. `content_length` when the body's length is known.
pub(crate) fn client_response(head: &ResponseHead, content_length: Option<u64>) -> http::Response<()> {
    let mut response = http::Response::new(());
    // Statuses 100–999 all fit `StatusCode`; our heads never hold anything else.
    *response.status_mut() = http::StatusCode::from_u16(head.status).unwrap_or(http::StatusCode::BAD_GATEWAY);
    *response.headers_mut() = header_map(&head.headers);
    if let Some(n) = content_length {
        response.headers_mut().insert(http::header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    response
}

/// Fields as our `Headers`: every name and value copied into one buffer, then sliced, like
/// an HTTP/1.1 head.
pub(crate) fn headers_from_map(map: &HeaderMap) -> Headers {
    let size: usize = map.iter().map(|(n, v)| n.as_str().len() + v.len()).sum();
    let mut buf = BytesMut::with_capacity(size);
    let mut spans = Vec::with_capacity(map.len());
    for (name, value) in map {
        let start = buf.len();
        buf.put_slice(name.as_str().as_bytes());
        let mid = buf.len();
        buf.put_slice(value.as_bytes());
        spans.push((start, mid, buf.len()));
    }
    let all = buf.freeze();
    let mut headers = Headers::with_capacity(spans.len());
    for (start, mid, end) in spans {
        headers.push(Header { name: all.slice(start..mid), value: all.slice(mid..end) });
    }
    headers
}

/// Our fields as a `HeaderMap`, without the fields HTTP/2 forbids (RFC 9113 §8.2.2): a
/// message from an HTTP/1.1 peer may still carry some (a `Connection` list names them).
/// Values are shared with the head, not copied.
pub(crate) fn header_map(headers: &Headers) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(headers.len());
    for header in headers {
        if is_connection_specific(header) {
            continue;
        }
        let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(&header.name), HeaderValue::from_maybe_shared(header.value.clone()))
        else {
            // Our parsers and the plugin rules admit only valid names and values.
            tracing::debug!(name = %String::from_utf8_lossy(&header.name), "dropping a field HTTP/2 cannot carry");
            continue;
        };
        map.append(name, value);
    }
    map
}

fn is_connection_specific(header: &Header) -> bool {
    const FORBIDDEN: [&str; 6] =
        ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "http2-settings"];
    FORBIDDEN.iter().any(|n| header.is(n)) || (header.is("te") && !header.value.eq_ignore_ascii_case(b"trailers"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn parts(builder: http::request::Builder) -> http::request::Parts {
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn authority_becomes_host_and_split_cookies_are_joined() {
        let request = parts(
            http::Request::get("https://Example.com:8443/a?b=1")
                .header("cookie", "a=1")
                .header("cookie", "b=2")
                .header("x-other", "v"),
        );
        let head = request_head(request, true, 100).unwrap();
        assert_eq!(&head.target[..], b"/a?b=1");
        assert_eq!(head.host.as_deref(), Some("example.com"));
        assert_eq!(head.headers.get("host").map(|h| &h[..]), Some(&b"Example.com:8443"[..]));
        assert_eq!(head.headers.get_all("cookie").collect::<Vec<_>>(), [&Bytes::from_static(b"a=1; b=2")]);
        assert_eq!((head.version, head.body), (Version::Http2, BodyKind::Empty));
    }

    #[test]
    fn refused_heads() {
        let mismatch = parts(http::Request::get("https://a.test/").header("host", "b.test"));
        assert!(matches!(request_head(mismatch, true, 100), Err(HeadError::Malformed(_))));
        let connect = parts(http::Request::connect("a.test:443"));
        assert_eq!(request_head(connect, true, 100).unwrap_err(), HeadError::ConnectNotAllowed);
        let many = parts((0..5).fold(http::Request::get("https://a.test/"), |b, i| b.header(format!("x-{i}"), "v")));
        assert_eq!(request_head(many, true, 4).unwrap_err(), HeadError::TooManyHeaders);
        let lengths =
            parts(http::Request::post("https://a.test/").header("content-length", "1").header("content-length", "2"));
        assert!(matches!(request_head(lengths, false, 100), Err(HeadError::AmbiguousFraming(_))));
        let expect = parts(http::Request::post("https://a.test/").header("expect", "something"));
        assert_eq!(request_head(expect, false, 100).unwrap_err(), HeadError::ExpectationFailed);
    }

    #[test]
    fn bodies_are_framed_for_http1() {
        let streamed = parts(http::Request::post("https://a.test/"));
        assert_eq!(request_head(streamed, false, 100).unwrap().body, BodyKind::Chunked);
        let sized = parts(http::Request::post("https://a.test/").header("content-length", "12"));
        assert_eq!(request_head(sized, false, 100).unwrap().body, BodyKind::Length(12));

        let mut head = ResponseHead::new(200, "OK");
        assert_eq!(response_framing(&head, false, true).unwrap(), BodyKind::Length(0));
        assert_eq!(response_framing(&head, true, false).unwrap(), BodyKind::Empty);
        assert_eq!(response_framing(&head, false, false).unwrap(), BodyKind::Chunked);
        head.headers.append(Bytes::from_static(b"content-length"), Bytes::from_static(b"7"));
        assert_eq!(response_framing(&head, false, false).unwrap(), BodyKind::Length(7));
    }

    #[test]
    fn connection_specific_fields_never_reach_http2() {
        let mut headers = Headers::default();
        for (name, value) in [
            ("Connection", "close"),
            ("Keep-Alive", "5"),
            ("Transfer-Encoding", "chunked"),
            ("Upgrade", "x"),
            ("TE", "gzip"),
            ("X-Kept", "1"),
            ("te", "trailers"),
        ] {
            headers.append(Bytes::from(name), Bytes::from(value));
        }
        let map = header_map(&headers);
        let names: Vec<&str> = map.keys().map(|n| n.as_str()).collect();
        assert_eq!(names, ["x-kept", "te"]);
    }
}
