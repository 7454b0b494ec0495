//! One request through the phase chart. Read it top to bottom: every `[phase]` comment is
//! where the route's plugin chain runs.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio::sync::watch;

use super::body::Source;
use super::call::{call, Called, Origin, PluginScope, Upstreamed};
use super::downstream::Downstream;
use super::relay::{relay, RelayLimits};
use super::tunnel::tunnel;
use super::Proxy;
use crate::access::{self, timed, AccessRecord};
use crate::error::ProxyError;
use crate::http1::header::tokens;
use crate::http1::{BodyDecoder, BodyKind, HeadError, RequestHead, Version};
use crate::plugin::{CallCtx, Chain, LogSummary, Phase, PluginReply, Vars};

/// What happens to the client connection after a successful exchange.
pub(crate) enum After {
    KeepAlive,
    Close,
    /// Close, but the client may still be sending a body we did not read (the origin
    /// answered early): drain briefly first, or the kernel's RST can destroy the response.
    CloseUnread,
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

/// `draining` turns true when the gateway shuts down: a response sent after that says
/// `Connection: close`. `record` is filled in for the access log as the request goes.
pub(crate) async fn exchange(
    proxy: &Proxy,
    client: &mut Downstream<'_>,
    client_ip: &Bytes,
    mut req: RequestHead,
    draining: &watch::Receiver<bool>,
    record: &mut AccessRecord,
) -> Result<After, Failure> {
    let started = record.started;
    // Internal headers go before anything (routing, plugins, the origin) can see them.
    proxy.scrub.request(&mut req.headers);
    record.request_id = access::request_id(&mut req.headers);
    tracing::Span::current().record("request_id", tracing::field::display(String::from_utf8_lossy(&record.request_id)));
    record.method = req.method.clone();
    record.target = req.target.clone();
    record.protocol = req.version.name();

    let route_index = proxy.router.find(req.host.as_deref(), req.path(), &req.method).ok_or(ProxyError::NoRoute)?;
    let route = &proxy.config.routes[route_index];
    if let BodyKind::Length(n) = req.body {
        if n > proxy.config.limits.max_body_bytes {
            return Err(ProxyError::Client(HeadError::BodyTooLarge).into());
        }
    }
    let client_keep_alive = req.keep_alive();
    let expects_continue = req.expects_continue() && req.version == Version::Http11;
    let is_head = req.method_is("HEAD");
    let chain = proxy.chain(route_index);
    record.route = Some(chain.route().clone());
    let mut vars = Vars::default();
    let early = Early { proxy, chain, client_ip, is_head, started, draining };

    // [on-request]: plugins may edit the request or reply early (a WAF's 403).
    if chain.has(Phase::OnRequest) {
        let mut ctx = CallCtx { route: chain.route(), req: &mut req, client_ip, vars: &mut vars };
        let decided = timed(&mut record.timings.plugins, chain.on_request(&mut ctx)).await;
        if let Some(reply) = decided? {
            let keep_alive = client_keep_alive && req.body.is_empty();
            return early.reply(client, &mut req, &mut vars, reply, keep_alive, record).await;
        }
    }

    let upgrade = proxy
        .fields
        .request(&mut req.headers, req.version, client_ip, client.is_tls())
        .and_then(|offered| allowed_protocols(&route.allow_upgrade, &offered));
    if let Some(protocols) = &upgrade {
        req.headers.append(Bytes::from_static(b"Connection"), Bytes::from_static(b"upgrade"));
        req.headers.append(Bytes::from_static(b"Upgrade"), protocols.clone());
    }

    // [select-upstream]: the first plugin that answers picks a configured upstream.
    let mut upstream_index = proxy.route_upstream[route_index];
    if chain.has(Phase::SelectUpstream) {
        let mut ctx = CallCtx { route: chain.route(), req: &mut req, client_ip, vars: &mut vars };
        let resolve = |name: &str| proxy.upstream_by_name.get(name).copied();
        let selected = timed(&mut record.timings.plugins, chain.select_upstream(&mut ctx, resolve)).await;
        if let Some(index) = selected? {
            upstream_index = index;
        }
    }
    let upstream = &proxy.upstreams[upstream_index];
    record.upstream = Some(upstream.name.clone());
    if !req.headers.contains("host") {
        // We always speak HTTP/1.1 upstream, which requires Host; an HTTP/1.0 client may
        // have sent none. Name the upstream's endpoint, as nginx's `$proxy_host` does.
        if let Some(endpoint) = upstream.endpoints().first() {
            req.headers.append(Bytes::from_static(b"Host"), Bytes::from(endpoint.clone()));
        }
    }

    // [on-upstream-request] runs inside `call`, once per attempt.
    let mut scope = PluginScope { chain, client_ip, vars: &mut vars };
    let Upstreamed { conn: mut origin, key, head: mut resp, request_complete } =
        match call(proxy, upstream, &req, client, expects_continue, &mut scope, &mut record.timings).await? {
            Called::Response(upstreamed) => upstreamed,
            Called::Replied(reply) => {
                // Nothing of the request body was read yet.
                let keep_alive = client_keep_alive && req.body.is_empty();
                return early.reply(client, &mut req, &mut vars, reply, keep_alive, record).await;
            }
        };

    if resp.status == 101 {
        // The origin may only switch to a protocol we forwarded (the client's offer that the
        // route allows).
        let switched_to_offered = match (&upgrade, resp.headers.get("upgrade")) {
            (Some(offered), Some(chosen)) => {
                let offered: Vec<&[u8]> = tokens(offered).collect();
                tokens(chosen).next().is_some()
                    && tokens(chosen).all(|c| offered.iter().any(|o| o.eq_ignore_ascii_case(c)))
            }
            _ => false,
        };
        if !switched_to_offered {
            return Err(
                ProxyError::UpstreamInvalid(HeadError::Malformed("101 to a protocol that was not offered")).into()
            );
        }
        if let (Downstream::H1(client), Origin::H1(origin)) = (client, origin) {
            tunnel(proxy, client, origin, resp).await;
            return Ok(After::Close);
        }
        // Unreachable: HTTP/2 carries no Upgrade, so nothing was offered.
        return Err(ProxyError::UpstreamInvalid(HeadError::Malformed("101 over HTTP/2")).into());
    }
    let framing = match &origin {
        Origin::H1(_) => crate::http1::framing::response_body(&resp.headers, resp.status, is_head),
        Origin::H2(body) => crate::http2::convert::response_framing(&resp, is_head, body.is_end_stream()),
    };
    let framing = framing.map_err(ProxyError::UpstreamInvalid)?;

    // [on-response]: plugins may edit status and headers, or replace the reply.
    if chain.has(Phase::OnResponse) {
        let mut ctx = CallCtx { route: chain.route(), req: &mut req, client_ip, vars: &mut vars };
        let decided = timed(&mut record.timings.plugins, chain.on_response(&mut ctx, &mut resp)).await;
        if let Some(reply) = decided? {
            // The origin's body stays unread, so its connection is dropped, not pooled.
            drop(origin);
            let keep_alive = client_keep_alive && request_complete;
            return early.reply(client, &mut req, &mut vars, reply, keep_alive, record).await;
        }
    }

    let origin_keep_alive = resp.keep_alive();
    proxy.fields.response(&mut resp.headers);
    proxy.scrub.response(&mut resp.headers);
    resp.headers.replace(Bytes::from_static(access::REQUEST_ID.as_bytes()), record.request_id.clone());
    record.status = resp.status;
    // HEAD and 304 replies describe a body they do not carry; their Content-Length stays.
    let keep_length = framing == BodyKind::Empty && (is_head || resp.status == 304);
    if !keep_length {
        resp.headers.remove("content-length");
    }
    let keep_alive = client_keep_alive && request_complete && !*draining.borrow();
    let timeouts = &proxy.config.timeouts;
    let started_response = client.start_response(&mut resp, framing, keep_alive, req.version, timeouts.body_idle).await;
    let Ok((sink, keep_alive)) = started_response else {
        return Err(Failure::Abort("client went away before the response head"));
    };

    let limits = RelayLimits {
        read_idle: timeouts.upstream_idle,
        write_idle: timeouts.body_idle,
        max_bytes: None,
        min_rate: None,
    };
    let scrub = |trailers: &mut crate::http1::Headers| proxy.scrub.response(trailers);
    let bytes_sent = match sink {
        None => 0,
        Some(mut sink) => {
            let mut source = match &mut origin {
                Origin::H1(conn) => {
                    Source::H1 { conn, decoder: BodyDecoder::new(framing, proxy.config.limits.max_head_bytes) }
                }
                Origin::H2(body) => Source::H2(body),
            };
            match relay(&mut source, &mut sink, &limits, scrub).await {
                Ok(bytes) => bytes,
                Err(fault) => {
                    tracing::warn!(?fault, upstream = %upstream.name, "response body relay failed; closing client connection");
                    return Err(Failure::Abort("response body relay failed"));
                }
            }
        }
    };

    record.bytes_sent = bytes_sent;
    if let Origin::H1(origin) = origin {
        let reusable =
            origin_keep_alive && framing != BodyKind::CloseDelimited && request_complete && origin.buf.is_empty();
        if reusable {
            proxy.pool.checkin(key, origin.stream);
        }
    }

    // [on-log]: after the last byte, with status, bytes and timings.
    if chain.has(Phase::OnLog) {
        let summary = LogSummary {
            upstream: Some(upstream.name.clone()),
            status: resp.status,
            bytes_sent,
            duration_us: started.elapsed().as_micros() as u64,
        };
        let mut ctx = CallCtx { route: chain.route(), req: &mut req, client_ip, vars: &mut vars };
        timed(&mut record.timings.plugins, chain.on_log(&mut ctx, &summary)).await;
    }

    Ok(match (keep_alive, request_complete) {
        (true, _) => After::KeepAlive,
        (false, true) => After::Close,
        (false, false) => After::CloseUnread,
    })
}

/// What answering with a plugin's reply needs to know about the request.
struct Early<'a> {
    proxy: &'a Proxy,
    chain: &'a Chain,
    client_ip: &'a Bytes,
    is_head: bool,
    started: Instant,
    draining: &'a watch::Receiver<bool>,
}

impl Early<'_> {
    /// Sends a plugin's reply in place of the origin's, then runs `on-log`.
    async fn reply(
        &self,
        client: &mut Downstream<'_>,
        req: &mut RequestHead,
        vars: &mut Vars,
        reply: PluginReply,
        keep_alive: bool,
        record: &mut AccessRecord,
    ) -> Result<After, Failure> {
        let status = reply.status;
        record.status = status;
        let http10 = req.version == Version::Http10;
        let keep_alive = keep_alive && !*self.draining.borrow();
        let (after, bytes_sent) =
            super::reply::send(self.proxy, client, reply, self.is_head, http10, keep_alive, &record.request_id).await?;
        record.bytes_sent = bytes_sent;
        if self.chain.has(Phase::OnLog) {
            let summary = LogSummary {
                upstream: None,
                status,
                bytes_sent,
                duration_us: self.started.elapsed().as_micros() as u64,
            };
            let chain = self.chain;
            let mut ctx = CallCtx { route: chain.route(), req, client_ip: self.client_ip, vars };
            timed(&mut record.timings.plugins, chain.on_log(&mut ctx, &summary)).await;
        }
        Ok(after)
    }
}

/// The protocols of an `Upgrade` list (`websocket`, `websocket/13`) that the route allows,
/// joined again; `None` if there are none.
fn allowed_protocols(allowed: &[String], offered: &[u8]) -> Option<Bytes> {
    let mut kept = BytesMut::new();
    for protocol in tokens(offered) {
        let name = protocol.split(|&b| b == b'/').next().unwrap_or_default();
        if allowed.iter().any(|a| a.as_bytes().eq_ignore_ascii_case(name)) {
            if !kept.is_empty() {
                kept.extend_from_slice(b", ");
            }
            kept.extend_from_slice(protocol);
        }
    }
    (!kept.is_empty()).then(|| kept.freeze())
}
