//! Requests to an HTTP/2 upstream (`protocol = "h2" | "h2c"`): one shared connection per
//! endpoint carries many requests at once. The retry rules are those of `call.rs`: a
//! connection that turns out dead, or a stream the origin refused (REFUSED_STREAM, or
//! beyond its GOAWAY), before any body byte was sent, is retried once on a fresh connection.

use super::body::Sink;
use super::call::{connect_error, send_request_body, AttemptError, Origin, Upstreamed};
use super::downstream::Downstream;
use super::exchange::Failure;
use super::Proxy;
use crate::access::{timed, Timings};
use crate::error::ProxyError;
use crate::http1::{HeadError, RequestHead, ResponseHead};
use crate::http2::{client, convert};
use crate::pool::PoolKey;
use crate::upstream::Upstream;

/// The client's `Expect: 100-continue`, answered at most once across attempts.
pub(super) struct Continue<'a> {
    pub expected: bool,
    pub sent: &'a mut bool,
}

/// One endpoint attempt. `Ok(Err(_))`: no connection could be made (the caller moves on to
/// the next endpoint).
#[allow(clippy::too_many_arguments)]
pub(super) async fn call<'u>(
    proxy: &Proxy,
    upstream: &Upstream,
    endpoint: &str,
    key: &'u PoolKey,
    req: &RequestHead,
    client: &mut Downstream<'_>,
    mut continuing: Continue<'_>,
    timings: &mut Timings,
) -> Result<Result<Upstreamed<'u>, ProxyError>, Failure> {
    let timeouts = &proxy.config.timeouts;
    loop {
        let connect = async {
            let stream = upstream.open(endpoint, timeouts.upstream_connect).await?;
            client::handshake(stream, timeouts.upstream_connect).await
        };
        let (shared, reused) =
            match timed(&mut timings.connect, proxy.pool.multiplexed.get_or_connect(key, connect)).await {
                Ok(got) => got,
                Err(err) => {
                    tracing::warn!(upstream = %upstream.name, endpoint, error = %err, "connect failed");
                    crate::metrics::metrics().connect_failed(&upstream.name);
                    return Ok(Err(connect_error(&upstream.name, err)));
                }
            };
        let scheme = if upstream.is_tls() { "https" } else { "http" };
        let sent = attempt(proxy, shared.sender.clone(), scheme, endpoint, req, client, &mut continuing);
        match timed(&mut timings.upstream, sent).await {
            Ok((head, body, request_complete)) => {
                let conn = Origin::H2(body);
                return Ok(Ok(Upstreamed { conn, key, head, request_complete }));
            }
            Err(AttemptError::Stale(why)) if reused => {
                tracing::debug!(upstream = %upstream.name, endpoint, why, "shared HTTP/2 connection unusable; retrying fresh");
                proxy.pool.multiplexed.forget(key, &shared).await;
                crate::metrics::metrics().retried(&upstream.name, "stale");
            }
            Err(AttemptError::Stale(why)) => {
                proxy.pool.multiplexed.forget(key, &shared).await;
                return Err(ProxyError::UpstreamClosed(why).into());
            }
            Err(AttemptError::Fatal(failure)) => return Err(failure),
        }
    }
}

async fn attempt(
    proxy: &Proxy,
    sender: h2::client::SendRequest<bytes::Bytes>,
    scheme: &str,
    endpoint: &str,
    req: &RequestHead,
    client: &mut Downstream<'_>,
    continuing: &mut Continue<'_>,
) -> Result<(ResponseHead, h2::RecvStream, bool), AttemptError> {
    let timeouts = &proxy.config.timeouts;
    // Waits for a free stream slot (the origin's MAX_CONCURRENT_STREAMS); an error means the
    // connection is gone.
    let ready = tokio::time::timeout(timeouts.upstream_response, sender.ready()).await;
    let mut sender = match ready {
        Err(_) => return Err(AttemptError::Fatal(ProxyError::UpstreamTimeout.into())),
        Ok(Err(err)) => return Err(AttemptError::Stale(err.to_string())),
        Ok(Ok(sender)) => sender,
    };
    let request = convert::origin_request(req, scheme, endpoint)
        .map_err(|err| AttemptError::Fatal(ProxyError::Client(err).into()))?;
    let end = req.body.is_empty();
    let (response, send) = sender.send_request(request, end).map_err(|err| AttemptError::Stale(err.to_string()))?;
    let mut request_complete = true;
    if !end {
        let mut sink = Sink::H2(send);
        request_complete =
            send_request_body(proxy, req, client, continuing.expected, continuing.sent, &mut sink).await?;
    }
    let response = match tokio::time::timeout(timeouts.upstream_response, response).await {
        Err(_) => return Err(AttemptError::Fatal(ProxyError::UpstreamTimeout.into())),
        // Refused (or past the origin's GOAWAY): the origin did not process it.
        Ok(Err(err)) if end && (err.reason() == Some(h2::Reason::REFUSED_STREAM) || err.is_go_away()) => {
            return Err(AttemptError::Stale(err.to_string()));
        }
        Ok(Err(err)) => return Err(AttemptError::Fatal(ProxyError::UpstreamClosed(err.to_string()).into())),
        Ok(Ok(response)) => response,
    };
    let (parts, body) = response.into_parts();
    let head = convert::response_head(&parts);
    if head.is_interim() {
        return Err(AttemptError::Fatal(
            ProxyError::UpstreamInvalid(HeadError::Malformed("interim status as final")).into(),
        ));
    }
    Ok((head, body, request_complete))
}
