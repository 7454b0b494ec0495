//! One request through the phase chart. Read it top to bottom: every `[phase]` comment is
//! where the plugin chain plugs in.

use bytes::{Bytes, BytesMut};

use super::call::{call, Upstreamed};
use super::io::Conn;
use super::relay::{relay, Encode, RelayLimits};
use super::tunnel::tunnel;
use super::Proxy;
use crate::error::ProxyError;
use crate::http1::{render, BodyDecoder, BodyKind, HeadError, RequestHead, Version};

/// What happens to the client connection after a successful exchange.
pub(crate) enum After {
    KeepAlive,
    Close,
}

pub(crate) enum Failure {
    /// Nothing was sent to the client yet: answer with the error's status, then close.
    Respond(ProxyError),
    /// The response had started (or the client left): all we can do is close, which makes
    /// a truncated body visible instead of passing it off as complete.
    Abort(&'static str),
}

impl From<ProxyError> for Failure {
    fn from(err: ProxyError) -> Failure {
        Failure::Respond(err)
    }
}

pub(crate) async fn exchange(
    proxy: &Proxy,
    client: &mut Conn,
    client_ip: &Bytes,
    mut req: RequestHead,
) -> Result<After, Failure> {
    // Internal headers go before anything (routing, plugins, the origin) can see them.
    proxy.scrub.request(&mut req.headers);

    let route_index = proxy.router.find(req.host.as_deref(), req.path(), &req.method).ok_or(ProxyError::NoRoute)?;
    let route = &proxy.config.routes[route_index];

    // [on-request]: plugins may edit the request or reply early.

    if let BodyKind::Length(n) = req.body {
        if n > proxy.config.limits.max_body_bytes {
            return Err(ProxyError::Client(HeadError::BodyTooLarge).into());
        }
    }
    let client_keep_alive = req.keep_alive();
    let expects_continue = req.expects_continue() && req.version == Version::Http11;
    let is_head = req.method_is("HEAD");
    let upgrade = proxy
        .fields
        .request(&mut req.headers, req.version, client_ip)
        .filter(|proto| upgrade_allowed(&route.allow_upgrade, proto));
    if let Some(proto) = &upgrade {
        req.headers.append(Bytes::from_static(b"Connection"), Bytes::from_static(b"upgrade"));
        req.headers.append(Bytes::from_static(b"Upgrade"), proto.clone());
    }

    // [select-upstream]: the first plugin that answers picks a configured upstream.
    let upstream = &proxy.upstreams[proxy.route_upstream[route_index]];
    if !req.headers.contains("host") {
        // We always speak HTTP/1.1 upstream, which requires Host; an HTTP/1.0 client may
        // have sent none. Name the upstream's endpoint, as nginx's `$proxy_host` does.
        if let Some(endpoint) = upstream.endpoints().first() {
            req.headers.append(Bytes::from_static(b"Host"), Bytes::from(endpoint.clone()));
        }
    }

    // [on-upstream-request] runs inside `call`, once per attempt.
    let Upstreamed { conn: mut origin, key, head: mut resp, request_complete } =
        call(proxy, upstream, &req, client, expects_continue).await?;

    if resp.status == 101 {
        if upgrade.is_none() {
            return Err(ProxyError::UpstreamInvalid(HeadError::Malformed("101 without an upgrade request")).into());
        }
        tunnel(proxy, client, origin, resp).await;
        return Ok(After::Close);
    }
    let framing = crate::http1::framing::response_body(&resp.headers, resp.status, is_head)
        .map_err(ProxyError::UpstreamInvalid)?;

    // [on-response]: plugins may edit status and headers, or replace the reply.

    let origin_keep_alive = resp.keep_alive();
    proxy.fields.response(&mut resp.headers);
    proxy.scrub.response(&mut resp.headers);
    // HEAD and 304 replies describe a body they do not carry; their Content-Length stays.
    let keep_length = framing == BodyKind::Empty && (is_head || resp.status == 304);
    if !keep_length {
        resp.headers.remove("content-length");
    }
    let http10 = req.version == Version::Http10;
    let (client_framing, encode) = match framing {
        BodyKind::Empty if keep_length || resp.status < 200 || resp.status == 204 => (None, Encode::Raw),
        BodyKind::Empty => (Some(BodyKind::Length(0)), Encode::Raw),
        BodyKind::Length(n) => (Some(BodyKind::Length(n)), Encode::Raw),
        // An HTTP/1.0 client cannot read chunked: it gets the raw body and a close.
        BodyKind::Chunked | BodyKind::CloseDelimited if http10 => (None, Encode::Raw),
        BodyKind::Chunked | BodyKind::CloseDelimited => (Some(BodyKind::Chunked), Encode::Chunked),
    };
    let keep_alive = client_keep_alive && request_complete && (client_framing.is_some() || framing == BodyKind::Empty);
    if http10 && keep_alive {
        resp.headers.append(Bytes::from_static(b"Connection"), Bytes::from_static(b"keep-alive"));
    }
    let mut out = BytesMut::with_capacity(512);
    render::response(&resp, client_framing, !keep_alive, &mut out);
    let timeouts = &proxy.config.timeouts;
    if client.write_all(&out, timeouts.body_idle).await.is_err() {
        return Err(Failure::Abort("client went away before the response head"));
    }

    let mut decoder = BodyDecoder::new(framing, proxy.config.limits.max_head_bytes);
    let limits = RelayLimits {
        read_idle: timeouts.upstream_idle,
        write_idle: timeouts.body_idle,
        max_bytes: None,
        min_rate: None,
    };
    if let Err(fault) = relay(&mut origin, &mut decoder, &mut client.stream, encode, &limits).await {
        tracing::warn!(?fault, upstream = %upstream.name, "response body relay failed; closing client connection");
        return Err(Failure::Abort("response body relay failed"));
    }

    let origin_reusable =
        origin_keep_alive && framing != BodyKind::CloseDelimited && request_complete && origin.buf.is_empty();
    if origin_reusable {
        proxy.pool.checkin(key, origin.stream);
    }

    // [on-log]: after the last byte, with status, bytes and timings.

    Ok(if keep_alive { After::KeepAlive } else { After::Close })
}

/// A route allows an Upgrade when it lists the protocol name (`websocket` in `websocket/13`).
fn upgrade_allowed(allowed: &[String], proto: &[u8]) -> bool {
    let name = proto.split(|&b| b == b'/' || b == b',').next().unwrap_or_default();
    let name = crate::http1::header::trim_ows(name);
    allowed.iter().any(|a| a.as_bytes().eq_ignore_ascii_case(name))
}
