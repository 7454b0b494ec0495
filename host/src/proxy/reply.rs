//! Sending a plugin's own response (a WAF's 403, an auth plugin's 401) instead of the
//! origin's. The reply passes the same rules as anything a plugin touches: a valid status,
//! field names and values that cannot split the head, and framing that only we write.

use bytes::{Bytes, BytesMut};

use super::exchange::{After, Failure};
use super::io::Conn;
use super::Proxy;
use crate::http1::response::canonical_reason;
use crate::http1::{render, BodyKind, ResponseHead};
use crate::plugin::PluginReply;

/// The response head for a reply the chain has checked (`PluginReply::problem`).
fn head(reply: &PluginReply) -> ResponseHead {
    let mut head = ResponseHead::new(reply.status, canonical_reason(reply.status));
    for (name, value) in &reply.headers {
        // We frame the body and decide the connection's fate; a reply cannot.
        if !portcullis_abi::rules::gateway_owned(name.as_bytes()) {
            head.headers.append(Bytes::from(name.clone()), Bytes::from(value.clone()));
        }
    }
    head
}

/// Writes the reply. `request_complete` says whether the request body (if any) was read;
/// if not, the connection closes after the reply, since the unread body is in the way.
pub(crate) async fn send(
    proxy: &Proxy,
    client: &mut Conn,
    plugin_reply: PluginReply,
    is_head: bool,
    http10: bool,
    keep_alive: bool,
    request_id: &Bytes,
) -> Result<(After, u64), Failure> {
    let mut head = head(&plugin_reply);
    proxy.fields.response(&mut head.headers);
    proxy.scrub.response(&mut head.headers);
    head.headers.replace(Bytes::from_static(crate::access::REQUEST_ID.as_bytes()), request_id.clone());
    if http10 && keep_alive {
        head.headers.append(Bytes::from_static(b"Connection"), Bytes::from_static(b"keep-alive"));
    }
    let bodiless = head.status == 204 || head.status == 304;
    let framing = (!bodiless).then_some(BodyKind::Length(plugin_reply.body.len() as u64));
    let mut out = BytesMut::with_capacity(256 + plugin_reply.body.len());
    render::response(&head, framing, !keep_alive, &mut out);
    let send_body = !is_head && !bodiless;
    if send_body {
        out.extend_from_slice(&plugin_reply.body);
    }
    if client.write_all(&out, proxy.config.timeouts.body_idle).await.is_err() {
        return Err(Failure::Abort("client went away before the plugin's reply"));
    }
    let sent = if send_body { plugin_reply.body.len() as u64 } else { 0 };
    Ok((if keep_alive { After::KeepAlive } else { After::CloseUnread }, sent))
}
