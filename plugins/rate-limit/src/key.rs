//! What a request is counted by (`client_ip`, `header:NAME` or `var:NAME`) and the counter
//! key it becomes.
//!
//! Counters belong to the plugin and are shared by every route that uses it, so each key
//! starts with the config's scope and key spec: `100/60000|client_ip|=192.0.2.1`. The
//! gateway refuses keys over 512 bytes; a value that would not fit (or is not UTF-8) is
//! replaced by its hash, `…|#<fnv1a-64 hex>-<length>`, which cannot collide with a value
//! kept as is (those follow `=`).

use portcullis_sdk::{host, Request};

/// The gateway's limit on a counter key.
const MAX_COUNTER_KEY: usize = 512;

pub(crate) enum Source {
    ClientIp,
    Header(String),
    Var(String),
}

impl Source {
    pub(crate) fn parse(spec: &str) -> Result<Source, String> {
        let bad = |why: String| format!("`key`: {why}");
        match spec.split_once(':') {
            None if spec == "client_ip" => Ok(Source::ClientIp),
            Some(("header", name)) if is_header_name(name) && name.len() <= 128 => {
                Ok(Source::Header(name.to_ascii_lowercase()))
            }
            Some(("header", name)) => Err(bad(format!("{name:?} is not a valid header name"))),
            Some(("var", name)) if !name.is_empty() && name.len() <= 128 => Ok(Source::Var(name.to_owned())),
            Some(("var", _)) => Err(bad("a variable name is 1 to 128 bytes".into())),
            _ => Err(bad(format!("unknown key {spec:?}: use \"client_ip\", \"header:NAME\" or \"var:NAME\""))),
        }
    }

    /// The request's key, `None` when absent or empty.
    pub(crate) fn value(&self, req: &Request) -> Option<Vec<u8>> {
        let value = match self {
            Source::ClientIp => req.client_ip().into_bytes(),
            Source::Header(name) => req.header(name)?,
            Source::Var(name) => host::var(name)?.into_bytes(),
        };
        (!value.is_empty()).then_some(value)
    }

    /// The request header the key comes from (lowercase).
    pub(crate) fn header(&self) -> Option<&str> {
        match self {
            Source::Header(name) => Some(name),
            Source::ClientIp | Source::Var(_) => None,
        }
    }

    /// As written in the config, normalised (`header:x-user`).
    pub(crate) fn spec(&self) -> String {
        match self {
            Source::ClientIp => "client_ip".into(),
            Source::Header(name) => format!("header:{name}"),
            Source::Var(name) => format!("var:{name}"),
        }
    }
}

/// `prefix` (`scope|spec|`) followed by the value, or by its hash if it does not fit.
pub(crate) fn counter_key(prefix: &str, value: &[u8]) -> String {
    match std::str::from_utf8(value) {
        Ok(text) if prefix.len() + 1 + text.len() <= MAX_COUNTER_KEY => format!("{prefix}={text}"),
        _ => format!("{prefix}#{:016x}-{}", fnv1a(value), value.len()),
    }
}

pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

fn is_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_utf8_values_are_kept_and_the_rest_hashed() {
        assert_eq!(counter_key("10/1000|client_ip|", b"192.0.2.1"), "10/1000|client_ip|=192.0.2.1");
        let long = "u".repeat(600);
        let key = counter_key("p|", long.as_bytes());
        assert_eq!(key, format!("p|#{:016x}-600", fnv1a(long.as_bytes())));
        assert!(counter_key("p|", &[0xff, 0xfe]).starts_with("p|#"));
        // Exactly at the limit stays readable; one more byte is hashed.
        let fits = "v".repeat(MAX_COUNTER_KEY - 3);
        assert_eq!(counter_key("p|", fits.as_bytes()).len(), MAX_COUNTER_KEY);
        assert!(counter_key("p|", format!("{fits}v").as_bytes()).starts_with("p|#"));
    }

    #[test]
    fn specs_parse_and_normalise() {
        assert_eq!(Source::parse("client_ip").map(|s| s.spec()), Ok("client_ip".into()));
        assert_eq!(Source::parse("header:X-User").map(|s| s.spec()), Ok("header:x-user".into()));
        assert_eq!(Source::parse("var:consumer").map(|s| s.spec()), Ok("var:consumer".into()));
    }
}
