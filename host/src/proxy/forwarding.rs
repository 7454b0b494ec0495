//! Fields the gateway adds or removes on the way through: hop-by-hop removal,
//! `X-Forwarded-For`, `X-Forwarded-Proto` and `Via`.

use bytes::{BufMut, Bytes, BytesMut};

use crate::config::{Forwarding, XffMode};
use crate::http1::{hop_by_hop, Headers, Version};

/// Precomputed values so the per-request work is a few pushes.
pub(crate) struct ForwardingFields {
    xff: XffMode,
    proto: bool,
    /// `Via` values for HTTP/1.0, 1.1 and 2 clients.
    via_request: Option<[Bytes; 3]>,
    via_response: Option<Bytes>,
    via_name: Option<String>,
}

impl ForwardingFields {
    pub(crate) fn new(cfg: &Forwarding) -> ForwardingFields {
        let via = cfg.via.as_deref();
        ForwardingFields {
            xff: cfg.x_forwarded_for,
            proto: cfg.x_forwarded_proto,
            via_request: via.map(|v| ["1.0", "1.1", "2"].map(|version| Bytes::from(format!("{version} {v}")))),
            via_response: via.map(|v| Bytes::from(format!("1.1 {v}"))),
            via_name: via.map(str::to_owned),
        }
    }

    pub(crate) fn via_name(&self) -> Option<&str> {
        self.via_name.as_deref()
    }

    /// Rewrites a request's fields for the origin. Returns the Upgrade protocol the client
    /// asked for (if any); the caller decides whether the route allows tunnelling it.
    /// `client_ip` is the peer address as text, computed once per connection; `tls` says
    /// whether the client came over TLS.
    pub(crate) fn request(
        &self,
        headers: &mut Headers,
        version: Version,
        client_ip: &Bytes,
        tls: bool,
    ) -> Option<Bytes> {
        let upgrade = hop_by_hop::strip(headers);
        headers.remove("content-length");
        // We answer `Expect: 100-continue` ourselves; the origin sees a plain request.
        headers.remove("expect");
        match self.xff {
            XffMode::Off => {}
            XffMode::Replace => headers.set("X-Forwarded-For", client_ip.clone()),
            XffMode::Append => append_to_list(headers, "X-Forwarded-For", client_ip.clone()),
        }
        if self.proto {
            let proto: &'static [u8] = if tls { b"https" } else { b"http" };
            headers.set("X-Forwarded-Proto", Bytes::from_static(proto));
        }
        if let Some([v10, v11, v2]) = &self.via_request {
            let ours = match version {
                Version::Http10 => v10,
                Version::Http11 => v11,
                Version::Http2 => v2,
            };
            append_to_list(headers, "Via", ours.clone());
        }
        upgrade
    }

    /// Rewrites a response's fields for the client (Content-Length is the caller's).
    pub(crate) fn response(&self, headers: &mut Headers) {
        hop_by_hop::strip(headers);
        if let Some(via) = &self.via_response {
            append_to_list(headers, "Via", via.clone());
        }
    }
}

/// Appends to a list-valued field, folding any duplicate lines into one comma-separated
/// value so every origin reads the same list.
fn append_to_list(headers: &mut Headers, name: &'static str, ours: Bytes) {
    if !headers.contains(name) {
        headers.append(Bytes::from_static(name.as_bytes()), ours);
        return;
    }
    let mut joined = BytesMut::new();
    headers.join_into(name, b", ", &mut joined);
    joined.put_slice(b", ");
    joined.put_slice(&ours);
    headers.set(name, joined.freeze());
}
