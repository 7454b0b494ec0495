//! Value checks that need more than a type: each returns the normalised value or the
//! message shown after the key path. Positions are added by the caller, which knows
//! where the value sits in the file.

use std::net::{Ipv6Addr, SocketAddr};

use crate::http1::framing::is_tchar;

fn is_token(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(is_tchar)
}

/// A listen address is a literal: binding must not depend on DNS at start-up.
pub(crate) fn listen_addr(text: &str) -> Result<SocketAddr, String> {
    text.parse().map_err(|_| {
        format!("invalid listen address {text:?}: expected IP:port such as \"127.0.0.1:8080\" or \"[::1]:8080\"")
    })
}

/// `host:port`, where host is a name, an IPv4 literal or a bracketed IPv6 literal. The
/// name is resolved at connect time, so only its shape is checked here.
pub(crate) fn endpoint(text: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("invalid endpoint {text:?}: {why}"));
    let Some((host, port)) = text.rsplit_once(':') else {
        return bad("expected host:port such as \"127.0.0.1:9000\"; the port is required");
    };
    let well_formed = match host.strip_prefix('[') {
        Some(inner) => inner.strip_suffix(']').is_some_and(|ip| ip.parse::<Ipv6Addr>().is_ok()),
        None => !host.is_empty() && !host.contains(':'),
    };
    if !well_formed {
        return bad("expected host:port; write IPv6 addresses in brackets, e.g. \"[::1]:9000\"");
    }
    if host.bytes().any(|b| b.is_ascii_whitespace() || b == b'/') {
        return bad("the host must not contain spaces or '/'");
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => bad("the port must be a number from 1 to 65535"),
    }
}

/// Exact host (`api.example.com`) or wildcard (`*.example.com`), returned lowercased
/// because the router compares bytes against an already lowercased request host.
pub(crate) fn host_pattern(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("empty host; omit `host` to match any host".to_owned());
    }
    let name = text.strip_prefix("*.").unwrap_or(text);
    if name.contains('*') {
        return Err(format!(
            "invalid host {text:?}: a wildcard must be a whole leading label, as in \"*.example.com\""
        ));
    }
    let invalid = || format!("invalid host {text:?}: expected a name such as \"api.example.com\" or \"*.example.com\"");
    if let Some(inner) = name.strip_prefix('[') {
        // An IPv6 literal, as it appears in a Host header; no wildcard form exists for it.
        let literal = inner.strip_suffix(']').is_some_and(|ip| ip.parse::<Ipv6Addr>().is_ok());
        return match literal && name.len() == text.len() {
            true => Ok(text.to_ascii_lowercase()),
            false => Err(invalid()),
        };
    }
    if name.contains(':') {
        return Err(format!("invalid host {text:?}: remove the port; routes match the host without its port"));
    }
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-._".contains(&b);
    if name.is_empty() || name.starts_with('.') || name.ends_with('.') || !name.bytes().all(allowed) {
        return Err(invalid());
    }
    Ok(text.to_ascii_lowercase())
}

/// A path prefix is compared byte-wise with the request path, which never holds a query
/// or fragment, so a prefix containing one could never match.
pub(crate) fn path_prefix(text: &str) -> Result<(), String> {
    if !text.starts_with('/') {
        return Err(format!("path_prefix {text:?} must start with '/'"));
    }
    if text.bytes().any(|b| b == b'?' || b == b'#' || b.is_ascii_whitespace() || b.is_ascii_control()) {
        return Err(format!("path_prefix {text:?} must not contain '?', '#', spaces or control characters"));
    }
    Ok(())
}

/// Methods are case-sensitive tokens on the wire; a lowercase `get` in the config is
/// taken to mean `GET`, since nobody routes a lowercase custom method on purpose.
pub(crate) fn method(text: &str) -> Result<String, String> {
    if !is_token(text) {
        return Err(format!("invalid method {text:?}: expected a token such as \"GET\""));
    }
    Ok(text.to_ascii_uppercase())
}

/// Route names appear in logs and metrics labels: keep them to a printable token.
pub(crate) fn route_name(text: &str) -> Result<String, String> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-_.:/".contains(&b);
    if text.is_empty() || !text.bytes().all(allowed) {
        return Err(format!("invalid route name {text:?}: use letters, digits and - _ . : /"));
    }
    Ok(text.to_owned())
}

/// `Upgrade` protocol names compare case-insensitively, so they are stored lowercased.
pub(crate) fn upgrade_protocol(text: &str) -> Result<String, String> {
    if !is_token(text) {
        return Err(format!("invalid upgrade protocol {text:?}: expected a token such as \"websocket\""));
    }
    if text.eq_ignore_ascii_case("h2c") {
        // An h2c upgrade would hand the origin a connection the gateway no longer reads:
        // every later request on it would bypass routing, plugins and limits.
        return Err("\"h2c\" cannot be tunnelled: serve HTTP/2 with `server.h2c` or TLS instead".to_owned());
    }
    Ok(text.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_need_a_port() {
        for ok in ["127.0.0.1:9000", "localhost:80", "[::1]:9000", "app.internal:65535"] {
            assert_eq!(endpoint(ok), Ok(()), "{ok}");
        }
        for bad in ["127.0.0.1", ":80", "::1:80", "host:", "host:0", "host:70000", "a b:1", "[]:1"] {
            assert!(endpoint(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hosts_are_exact_or_leading_wildcards() {
        assert_eq!(host_pattern("API.Example.com"), Ok("api.example.com".to_owned()));
        assert_eq!(host_pattern("*.Example.com"), Ok("*.example.com".to_owned()));
        assert_eq!(host_pattern("[::1]"), Ok("[::1]".to_owned()));
        for bad in ["", "*", "*.", "a*.b", "*.*.b", "foo.*", "*example.com", "a.com:80", "a b", ".a", "a.", "a[b"] {
            assert!(host_pattern(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn path_prefixes_start_with_a_slash() {
        assert_eq!(path_prefix("/"), Ok(()));
        assert_eq!(path_prefix("/v1/"), Ok(()));
        for bad in ["", "v1", "/a?b", "/a#b", "/a b"] {
            assert!(path_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn methods_are_uppercased_tokens() {
        assert_eq!(method("get"), Ok("GET".to_owned()));
        assert_eq!(method("PROPFIND"), Ok("PROPFIND".to_owned()));
        for bad in ["", "GET POST", "G(T", "GÉT"] {
            assert!(method(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn listen_addresses_are_socket_literals() {
        assert!(listen_addr("127.0.0.1:0").is_ok());
        assert!(listen_addr("[::1]:8080").is_ok());
        assert!(listen_addr("localhost:8080").is_err());
        assert!(listen_addr("127.0.0.1").is_err());
    }
}
