//! Sending a plugin's own response (a WAF's 403, an auth plugin's 401) instead of the
//! origin's. The reply passes the same rules as anything a plugin touches: a valid status,
//! field names and values that cannot split the head, and framing that only we write.

use bytes::Bytes;

use super::downstream::Downstream;
use super::exchange::{After, Failure};
use super::Proxy;
use crate::http1::response::canonical_reason;
use crate::http1::ResponseHead;
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

/// Writes the reply. `keep_alive` says whether an HTTP/1.1 connection may stay open after
/// it (not if the request body is still unread: it is in the way).
pub(crate) async fn send(
    proxy: &Proxy,
    client: &mut Downstream<'_>,
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
    let send_body = !is_head && !bodiless;
    let length = plugin_reply.body.len() as u64;
    let within = proxy.config.timeouts.body_idle;
    if client.send_complete(&head, plugin_reply.body, send_body, !keep_alive, within).await.is_err() {
        return Err(Failure::Abort("client went away before the plugin's reply"));
    }
    let sent = if send_body { length } else { 0 };
    Ok((if keep_alive { After::KeepAlive } else { After::CloseUnread }, sent))
}
