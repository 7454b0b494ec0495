//! The route's config, checked once at load: every error names its key.

use portcullis_sdk::Deserialize;

use crate::digest::{self, Digest};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub consumers: Vec<ConsumerConfig>,
    /// The request header carrying the key.
    #[serde(default = "default_header")]
    pub header: String,
    /// Remove the key header before the request goes upstream.
    #[serde(default = "default_true")]
    pub hide_credentials: bool,
    /// The per-request variable set to the consumer's name.
    #[serde(default = "default_variable")]
    pub variable: String,
    /// Sent in `WWW-Authenticate: ApiKey realm="…"` with a 401.
    #[serde(default = "default_realm")]
    pub realm: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerConfig {
    pub name: String,
    /// The key's SHA-256 in hex: `printf %s "$KEY" | sha256sum`.
    pub key_sha256: String,
}

fn default_header() -> String {
    "x-api-key".into()
}
fn default_true() -> bool {
    true
}
fn default_variable() -> String {
    "consumer".into()
}
fn default_realm() -> String {
    "portcullis".into()
}

pub(crate) struct Consumer {
    pub name: String,
    pub digest: Digest,
}

/// The gateway's limits on variables (key and value bytes).
const MAX_VARIABLE_BYTES: usize = 256;
const MAX_NAME_BYTES: usize = 256;

/// Fields a plugin may not touch (the gateway traps), plus `host`, which it may not remove.
const RESERVED_HEADERS: &[&str] =
    &["content-length", "transfer-encoding", "connection", "upgrade", "te", "trailer", "keep-alive", "host"];

pub(crate) fn consumers(configs: Vec<ConsumerConfig>) -> Result<Vec<Consumer>, String> {
    if configs.is_empty() {
        return Err("`consumers`: give at least one consumer".into());
    }
    let mut consumers: Vec<Consumer> = Vec::with_capacity(configs.len());
    for (i, config) in configs.into_iter().enumerate() {
        let at = format!("consumers[{i}]");
        check_name(&config.name).map_err(|why| format!("`{at}.name`: {why}"))?;
        let digest = digest::parse_hex(&config.key_sha256).ok_or_else(|| {
            format!(
                "`{at}.key_sha256`: must be the key's SHA-256 as 64 hex digits (`printf %s \"$KEY\" | sha256sum`), found {} characters",
                config.key_sha256.chars().count()
            )
        })?;
        for (j, earlier) in consumers.iter().enumerate() {
            if earlier.name == config.name {
                return Err(format!("`{at}.name`: {:?} is already the name of consumers[{j}]", config.name));
            }
            if earlier.digest == digest {
                return Err(format!("`{at}.key_sha256`: the same key as consumers[{j}] ({:?})", earlier.name));
            }
        }
        consumers.push(Consumer { name: config.name, digest });
    }
    Ok(consumers)
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!("longer than {MAX_NAME_BYTES} bytes"));
    }
    // It travels on as a variable, and from there often into a header value.
    if name.chars().any(char::is_control) {
        return Err(format!("{name:?} contains control characters"));
    }
    Ok(())
}

/// The key header's name, lowercased.
pub(crate) fn header(name: &str) -> Result<String, String> {
    let token = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !token {
        return Err(format!("`header`: {name:?} is not a valid header name"));
    }
    if RESERVED_HEADERS.iter().any(|reserved| reserved.eq_ignore_ascii_case(name)) {
        return Err(format!("`header`: `{name}` cannot carry an API key"));
    }
    Ok(name.to_ascii_lowercase())
}

pub(crate) fn variable(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_VARIABLE_BYTES {
        return Err(format!("`variable`: must be 1 to {MAX_VARIABLE_BYTES} bytes"));
    }
    Ok(())
}

/// The `WWW-Authenticate` value: the realm goes inside a quoted string, so no `"`, `\` or
/// control characters.
pub(crate) fn challenge(realm: &str) -> Result<String, String> {
    if !realm.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\') {
        return Err(format!("`realm`: {realm:?} must be printable ASCII without `\"` or `\\`"));
    }
    Ok(format!("ApiKey realm=\"{realm}\""))
}
