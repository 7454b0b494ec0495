//! Hop-by-hop fields (RFC 9110 §7.6.1) describe one connection, not the message: they are
//! removed before forwarding in either direction, together with every field the sender
//! named in `Connection`, so a client cannot make us forward (or drop) internals by naming them.

use std::sync::LazyLock;

use bytes::Bytes;
use portcullis_scrub::{NameMatcher, Pattern};

use super::header::{tokens, Headers};

const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "transfer-encoding",
    "upgrade",
    "proxy-authenticate",
    "proxy-authorization",
    // Connection-specific in RFC 9113 §8.2.2: never forwarded, so no h2c upgrade passes.
    "http2-settings",
];

// The same gated matcher as the scrubber: most fields are turned away by one table load
// instead of eight case-insensitive comparisons.
static HOP_MATCHER: LazyLock<NameMatcher> =
    LazyLock::new(|| NameMatcher::from_patterns(&HOP_BY_HOP.map(|name| Pattern::Exact(name.as_bytes().to_vec()))));

/// Removes hop-by-hop fields (Transfer-Encoding among them: the proxy renders its own
/// framing; Content-Length is the caller's call, since HEAD and 304 replies keep it).
/// Returns the Upgrade value, if any, for the caller to decide on tunnelling.
pub fn strip(headers: &mut Headers) -> Option<Bytes> {
    let upgrade = if headers.has_token("connection", "upgrade") { headers.get("upgrade").cloned() } else { None };
    let matcher = &*HOP_MATCHER;
    let is_hop = |name: &[u8]| matcher.is_match(name);
    // Usually `Connection` only says keep-alive/close/upgrade, all removed anyway: then no
    // per-message list of named fields is needed (and nothing is allocated).
    let names_others =
        headers.get_all("connection").any(|v| tokens(v).any(|t| !is_hop(t) && !t.eq_ignore_ascii_case(b"close")));
    if !names_others {
        headers.retain(|h| !is_hop(&h.name));
        return upgrade;
    }
    let named: Vec<Bytes> = headers.get_all("connection").cloned().collect();
    // Host is never the client's to remove: routing already used it, and an origin choosing
    // its virtual host from something else would be a routing bypass.
    let named_here = |name: &[u8]| {
        !name.eq_ignore_ascii_case(b"host") && named.iter().any(|v| tokens(v).any(|t| t.eq_ignore_ascii_case(name)))
    };
    headers.retain(|h| !(is_hop(&h.name) || named_here(&h.name)));
    upgrade
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http1::header::Header;

    #[test]
    fn strips_listed_and_named_fields() {
        let mut h = Headers::default();
        for (n, v) in [
            ("Host", "a"),
            ("Connection", "keep-alive, X-Secret, Upgrade"),
            ("Connection", "x-other"),
            ("X-Secret", "1"),
            ("X-Other", "1"),
            ("Keep-Alive", "timeout=5"),
            ("Upgrade", "websocket"),
            ("TE", "trailers"),
            ("Content-Length", "3"),
            ("X-Kept", "yes"),
        ] {
            h.push(Header::new(n, v));
        }
        let upgrade = strip(&mut h);
        assert_eq!(upgrade.as_deref(), Some(&b"websocket"[..]));
        let names: Vec<_> = h.iter().map(|h| String::from_utf8_lossy(&h.name).into_owned()).collect();
        assert_eq!(names, ["Host", "Content-Length", "X-Kept"]);
    }

    #[test]
    fn plain_keep_alive_strips_only_hop_by_hop_fields() {
        let mut h = Headers::default();
        for (n, v) in [("Host", "a"), ("Connection", "Keep-Alive"), ("Keep-Alive", "timeout=5"), ("X-Kept", "1")] {
            h.push(Header::new(n, v));
        }
        assert_eq!(strip(&mut h), None);
        let names: Vec<_> = h.iter().map(|h| String::from_utf8_lossy(&h.name).into_owned()).collect();
        assert_eq!(names, ["Host", "X-Kept"]);
    }
}
