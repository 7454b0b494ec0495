//! What a plugin may put in a header, shared so the gateway (which traps a plugin that
//! breaks a rule) and the SDK's native harness (which panics where the gateway would trap)
//! enforce the very same rules.

/// Fields that frame the message or manage the connection: only the gateway sets them, or a
/// plugin could smuggle a second request past the origin.
pub const GATEWAY_OWNED: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "proxy-connection",
];

pub const MAX_NAME_BYTES: usize = 256;
pub const MAX_VALUE_BYTES: usize = 16 * 1024;
/// The field count a plugin may grow a head to.
pub const MAX_FIELDS: usize = 512;

/// A field name: an RFC 9110 token of at most `MAX_NAME_BYTES`.
pub fn valid_name(name: &[u8]) -> bool {
    let tchar = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b);
    !name.is_empty() && name.len() <= MAX_NAME_BYTES && name.iter().all(tchar)
}

pub fn gateway_owned(name: &[u8]) -> bool {
    GATEWAY_OWNED.iter().any(|owned| owned.as_bytes().eq_ignore_ascii_case(name))
}

/// A field value: no control character but HTAB (what the gateway accepts from a client).
pub fn valid_value(value: &[u8]) -> bool {
    !value.iter().any(|&b| (b < b' ' && b != b'\t') || b == 0x7f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_values_and_owned_fields() {
        assert!(valid_name(b"x-api-key") && !valid_name(b"") && !valid_name(b"a b") && !valid_name(&[b'a'; 257]));
        assert!(gateway_owned(b"Content-Length") && gateway_owned(b"TE") && !gateway_owned(b"host"));
        assert!(valid_value(b"a\tb") && !valid_value(b"a\r\nb") && !valid_value(b"\0") && !valid_value(b"\x7f"));
    }
}
