//! Getting a response head from an upstream: pick endpoints round-robin, reuse a pooled
//! connection or connect, send the request (streaming its body), read the response head.
//!
//! Retry rules, in one place: a failed connect moves on to the next endpoint (bounded by the
//! upstream's `max_attempts`); a *reused* connection that turns out dead before any response
//! byte arrived, and before any request body byte was sent, is retried once on a fresh
//! connection (the origin closed it while it sat idle). A request whose body has started
//! streaming is never resent.

use std::time::Instant;

use bytes::{Bytes, BytesMut};

use super::body::{Encode, Sink};
use super::downstream::Downstream;
use super::exchange::Failure;
use super::io::{Conn, ReadFault};
use super::relay::{relay, RelayFault, RelayLimits};
use super::Proxy;
use crate::access::{timed, Timings};
use crate::error::ProxyError;
use crate::http1::{render, response, BodyKind, HeadError, Headers, RequestHead, ResponseHead};
use crate::plugin::{CallCtx, Chain, Phase, PluginReply, Vars};
use crate::pool::PoolKey;
use crate::upstream::{ConnectError, Upstream};

/// What a request's plugins need while upstream attempts are made.
pub(crate) struct PluginScope<'a> {
    pub chain: &'a Chain,
    pub client_ip: &'a Bytes,
    pub vars: &'a mut Vars,
}

pub(crate) enum Called<'u> {
    Response(Upstreamed<'u>),
    /// An `on-upstream-request` plugin answered instead; nothing was sent upstream.
    Replied(PluginReply),
}

/// Where the response body comes from.
pub(crate) enum Origin {
    /// The origin connection, to be pooled again if the exchange ends cleanly.
    H1(Conn),
    /// One stream of a shared HTTP/2 connection (which stays in the pool regardless).
    H2(h2::RecvStream),
}

pub(crate) struct Upstreamed<'u> {
    pub conn: Origin,
    pub key: &'u PoolKey,
    /// The final (or 101) response head.
    pub head: ResponseHead,
    /// Whether the whole request body was read from the client and sent. If not (the origin
    /// answered early), neither connection can be reused.
    pub request_complete: bool,
}

/// How one attempt on one connection ended, when it did not produce a response.
pub(super) enum AttemptError {
    /// The connection died before anything irrevocable happened: safe to retry on a fresh one.
    Stale(String),
    Fatal(Failure),
}

pub(crate) async fn call<'u>(
    proxy: &Proxy,
    upstream: &'u Upstream,
    req: &RequestHead,
    client: &mut Downstream<'_>,
    expects_continue: bool,
    plugins: &mut PluginScope<'_>,
    timings: &mut Timings,
) -> Result<Called<'u>, Failure> {
    let timeouts = &proxy.config.timeouts;
    let per_attempt = plugins.chain.has(Phase::OnUpstreamRequest);
    let h2 = upstream.protocol.is_h2();
    let mut head = BytesMut::with_capacity(1024);
    if !per_attempt && !h2 {
        render::request(req, req.body, &mut head);
    }
    let mut attempt_req = None;
    let mut continue_sent = false;
    let mut last_error = None;

    for (attempt_number, (endpoint, key)) in (1..).zip(upstream.attempts_keyed()) {
        if attempt_number > 1 {
            crate::metrics::metrics().retried(&upstream.name, "connect");
        }
        if per_attempt {
            // [on-upstream-request]: per endpoint attempt, each starting from the request as
            // `on-request` left it, so a retry to another origin can carry other headers.
            let attempt_req = attempt_req.insert(req.clone());
            let mut ctx = CallCtx {
                route: plugins.chain.route(),
                req: attempt_req,
                client_ip: plugins.client_ip,
                vars: plugins.vars,
            };
            let phase = plugins.chain.on_upstream_request(&mut ctx, &upstream.name, attempt_number);
            let decided = timed(&mut timings.plugins, phase).await;
            if let Some(reply) = decided? {
                return Ok(Called::Replied(reply));
            }
            if !h2 {
                head.clear();
                render::request(attempt_req, req.body, &mut head);
            }
        }
        if h2 {
            let sent = attempt_req.as_ref().unwrap_or(req);
            let continuing = super::multiplexed::Continue { expected: expects_continue, sent: &mut continue_sent };
            match super::multiplexed::call(proxy, upstream, endpoint, key, sent, client, continuing, timings).await? {
                Ok(upstreamed) => return Ok(Called::Response(upstreamed)),
                Err(connect_failed) => last_error = Some(connect_failed),
            }
            continue;
        }
        let mut pooled = proxy.pool.checkout(key);
        loop {
            let reused = pooled.is_some();
            let stream = match pooled.take() {
                Some(stream) => stream,
                None => match timed(&mut timings.connect, upstream.open(endpoint, timeouts.upstream_connect)).await {
                    Ok(stream) => {
                        proxy.pool.record_new();
                        stream
                    }
                    Err(err) => {
                        tracing::warn!(upstream = %upstream.name, endpoint, error = %err, "connect failed");
                        crate::metrics::metrics().connect_failed(&upstream.name);
                        last_error = Some(connect_error(&upstream.name, err));
                        break;
                    }
                },
            };
            let mut conn = Conn::new(stream);
            let attempted = attempt(proxy, &mut conn, &head, req, client, expects_continue, &mut continue_sent);
            match timed(&mut timings.upstream, attempted).await {
                Ok((resp, request_complete)) => {
                    let conn = Origin::H1(conn);
                    return Ok(Called::Response(Upstreamed { conn, key, head: resp, request_complete }));
                }
                Err(AttemptError::Stale(why)) if reused => {
                    tracing::debug!(upstream = %upstream.name, endpoint, why, "pooled connection was dead; retrying fresh");
                    crate::metrics::metrics().retried(&upstream.name, "stale");
                }
                Err(AttemptError::Stale(why)) => return Err(ProxyError::UpstreamClosed(why).into()),
                Err(AttemptError::Fatal(failure)) => return Err(failure),
            }
        }
    }
    Err(last_error
        .unwrap_or_else(|| ProxyError::UpstreamConnect {
            upstream: upstream.name.clone(),
            detail: "no endpoints".into(),
        })
        .into())
}

pub(super) fn connect_error(upstream: &str, err: ConnectError) -> ProxyError {
    match err {
        ConnectError::Timeout(_) => ProxyError::UpstreamConnectTimeout { upstream: upstream.to_owned() },
        other => ProxyError::UpstreamConnect { upstream: upstream.to_owned(), detail: other.to_string() },
    }
}

/// Sends the head and body on `conn` and reads the response head.
async fn attempt(
    proxy: &Proxy,
    conn: &mut Conn,
    head: &[u8],
    req: &RequestHead,
    client: &mut Downstream<'_>,
    expects_continue: bool,
    continue_sent: &mut bool,
) -> Result<(ResponseHead, bool), AttemptError> {
    let timeouts = &proxy.config.timeouts;
    if let Err(err) = conn.write_all(head, timeouts.upstream_idle).await {
        return Err(AttemptError::Stale(format!("writing the request head: {err}")));
    }

    let mut request_complete = true;
    let body_started = !req.body.is_empty();
    if body_started {
        let encode = if req.body == BodyKind::Chunked { Encode::Chunked } else { Encode::Raw };
        let mut sink = Sink::h1(&mut conn.stream, encode);
        request_complete = send_request_body(proxy, req, client, expects_continue, continue_sent, &mut sink).await?;
    }

    let deadline = Instant::now() + timeouts.upstream_response;
    // Once any response byte arrived (an interim 102/103 included), the origin has started
    // on this request: a close after that is never a stale connection, so never retried.
    let mut responded = false;
    loop {
        match read_response_head(proxy, conn, deadline, &mut responded).await {
            Ok(resp) if resp.is_interim() && resp.status != 101 => {
                // 100 is ours to send (see above); other 1xx (103 Early Hints, 102) are
                // forwarded to clients that understand them.
                if resp.status != 100 {
                    let mut interim = resp;
                    proxy.fields.response(&mut interim.headers);
                    proxy.scrub.response(&mut interim.headers);
                    if client.send_interim(&interim, req.version, timeouts.body_idle).await.is_err() {
                        return Err(AttemptError::Fatal(Failure::Abort("client went away during 1xx")));
                    }
                }
            }
            Ok(resp) => return Ok((resp, request_complete)),
            Err(HeadRead::ClosedEarly(why)) if !body_started => return Err(AttemptError::Stale(why)),
            Err(HeadRead::ClosedEarly(why)) => return Err(AttemptError::Fatal(ProxyError::UpstreamClosed(why).into())),
            Err(HeadRead::Failed(err)) => return Err(AttemptError::Fatal(err.into())),
        }
    }
}

/// Streams the client's request body into `sink` (after `100 Continue`, if the client waits
/// for it). `Ok(false)`: the origin stopped reading early (it may have answered already, a
/// 413 of its own), so the request is incomplete and neither connection can be reused.
pub(super) async fn send_request_body(
    proxy: &Proxy,
    req: &RequestHead,
    client: &mut Downstream<'_>,
    expects_continue: bool,
    continue_sent: &mut bool,
    sink: &mut Sink<'_>,
) -> Result<bool, AttemptError> {
    let timeouts = &proxy.config.timeouts;
    if expects_continue && !*continue_sent {
        // We answer the client's expectation only now that an origin is connected, so a
        // refused request (404, 413, 502) never makes the client send its body.
        *continue_sent = true;
        if client.send_continue(timeouts.body_idle).await.is_err() {
            return Err(AttemptError::Fatal(Failure::Abort("client went away before sending its body")));
        }
    }
    let limits = RelayLimits {
        read_idle: timeouts.body_idle,
        write_idle: timeouts.upstream_idle,
        max_bytes: Some(proxy.config.limits.max_body_bytes),
        min_rate: timeouts.body_min_rate,
    };
    let scrub = |trailers: &mut Headers| proxy.scrub.request(trailers);
    let mut source = client.request_body(req.body, proxy.config.limits.max_head_bytes);
    match relay(&mut source, sink, &limits, scrub).await {
        Ok(_) => Ok(true),
        Err(RelayFault::Write(err)) => {
            tracing::debug!(error = %err, "origin stopped reading the request body");
            Ok(false)
        }
        Err(fault) => Err(AttemptError::Fatal(client_body_failure(fault))),
    }
}

fn client_body_failure(fault: RelayFault) -> Failure {
    match fault {
        RelayFault::ReadTimeout | RelayFault::TooSlow => ProxyError::ClientTimeout.into(),
        RelayFault::TooLarge => ProxyError::Client(HeadError::BodyTooLarge).into(),
        RelayFault::Malformed(kind) => ProxyError::Client(kind).into(),
        RelayFault::Truncated(err) => {
            tracing::debug!(?err, "client closed mid-body");
            Failure::Abort("client closed mid-body")
        }
        // Handled by the caller; kept total for safety.
        RelayFault::Write(_) => ProxyError::UpstreamClosed("origin stopped reading".into()).into(),
    }
}

enum HeadRead {
    /// EOF or reset before a single response byte.
    ClosedEarly(String),
    Failed(ProxyError),
}

async fn read_response_head(
    proxy: &Proxy,
    conn: &mut Conn,
    deadline: Instant,
    received_any: &mut bool,
) -> Result<ResponseHead, HeadRead> {
    let limits = &proxy.config.limits;
    *received_any |= !conn.buf.is_empty();
    loop {
        if !conn.buf.is_empty() {
            match response::parse(&mut conn.buf, limits.max_headers, limits.max_head_bytes) {
                Ok(Some(head)) => return Ok(head),
                Ok(None) => {}
                Err(err) => return Err(HeadRead::Failed(ProxyError::UpstreamInvalid(err))),
            }
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        match conn.read_more(wait).await {
            Ok(0) if !*received_any => return Err(HeadRead::ClosedEarly("closed before responding".into())),
            Ok(0) => return Err(HeadRead::Failed(ProxyError::UpstreamInvalid(HeadError::Truncated))),
            Ok(_) => *received_any = true,
            Err(ReadFault::Timeout) => return Err(HeadRead::Failed(ProxyError::UpstreamTimeout)),
            Err(ReadFault::Io(err)) if !*received_any => return Err(HeadRead::ClosedEarly(err.to_string())),
            Err(ReadFault::Io(err)) => return Err(HeadRead::Failed(ProxyError::UpstreamClosed(err.to_string()))),
        }
    }
}
