//! Exact ASCII case folding on 8-byte words, and zero-padded word loads.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Lowercases the ASCII letters `A`–`Z` in all eight bytes of `w`; every other byte
/// (including non-ASCII) is left as it is.
#[inline(always)]
pub(crate) fn lower_word(w: u64) -> u64 {
    let low7 = w & !HIGH;
    // High bit set in bytes >= 'A' and in bytes > 'Z' (computed on 7 bits, no carries).
    let ge_a = low7.wrapping_add(ONES * (0x80 - b'A' as u64));
    let gt_z = low7.wrapping_add(ONES * (0x7f - b'Z' as u64));
    let upper = (ge_a ^ gt_z) & !w & HIGH;
    w | (upper >> 2)
}

/// Up to 8 bytes of `bytes` starting at `at`, little-endian, zero-padded past the end.
#[inline(always)]
pub(crate) fn load(bytes: &[u8], at: usize) -> u64 {
    let rest = bytes.get(at..).unwrap_or_default();
    let mut word = [0u8; 8];
    if rest.len() >= 8 {
        word.copy_from_slice(&rest[..8]);
    } else {
        word[..rest.len()].copy_from_slice(rest);
    }
    u64::from_le_bytes(word)
}

/// The case-folded word at `at`.
#[inline(always)]
pub(crate) fn folded(bytes: &[u8], at: usize) -> u64 {
    lower_word(load(bytes, at))
}

/// A mask keeping the low `n` bytes of a word (`n` in 0..=8).
#[inline(always)]
pub(crate) fn low_bytes(n: usize) -> u64 {
    if n >= 8 {
        u64::MAX
    } else {
        (1u64 << (n * 8)) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercases_exactly_the_ascii_letters() {
        for b in 0..=255u8 {
            let word = u64::from_le_bytes([b, b'A', b'z', b'@', b'[', b'^', 0xC3, b'Z']);
            let want = u64::from_le_bytes([b.to_ascii_lowercase(), b'a', b'z', b'@', b'[', b'^', 0xC3, b'z']);
            assert_eq!(lower_word(word), want, "byte {b:#x}");
        }
    }

    #[test]
    fn loads_are_zero_padded() {
        assert_eq!(load(b"abc", 0), u64::from_le_bytes(*b"abc\0\0\0\0\0"));
        assert_eq!(load(b"abcdefghij", 8), u64::from_le_bytes(*b"ij\0\0\0\0\0\0"));
        assert_eq!(load(b"abc", 8), 0);
        assert_eq!(low_bytes(3), 0xff_ffff);
    }
}
