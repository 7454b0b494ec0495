//! Keys are known only by their SHA-256: the config holds digests, a request's key is
//! hashed once and compared with every consumer's digest in constant time.

use sha2::{Digest as _, Sha256};

pub(crate) type Digest = [u8; 32];

pub(crate) fn sha256(key: &[u8]) -> Digest {
    Sha256::digest(key).into()
}

/// 64 hex digits (either case) → the 32 bytes they spell.
pub(crate) fn parse_hex(text: &str) -> Option<Digest> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Equal digests, in a time that does not depend on where they first differ.
pub(crate) fn ct_eq(a: &Digest, b: &Digest) -> bool {
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_abc_is_the_fips_vector() {
        let want = parse_hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(Some(sha256(b"abc")), want);
    }

    #[test]
    fn hex_needs_exactly_64_hex_digits_in_either_case() {
        let lower = "0264b8205526ceea6fff4c7d3d3b6cf383d579553a931736819eb39ec6dd9a04";
        assert_eq!(parse_hex(lower), parse_hex(&lower.to_ascii_uppercase()));
        assert!(parse_hex(lower).is_some());
        assert_eq!(parse_hex(&lower[1..]), None);
        assert_eq!(parse_hex(&format!("{lower}0")), None);
        assert_eq!(parse_hex(&lower.replace('a', "g")), None);
        assert_eq!(parse_hex(&format!("{}  -", &lower[..61])), None);
    }

    #[test]
    fn ct_eq_compares_every_byte() {
        let a = sha256(b"a");
        let mut b = a;
        assert!(ct_eq(&a, &b));
        b[31] ^= 1;
        assert!(!ct_eq(&a, &b));
        b = a;
        b[0] ^= 0x80;
        assert!(!ct_eq(&a, &b));
    }
}
