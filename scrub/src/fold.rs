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
/// Short tails are assembled from overlapping loads (no variable-length copy): OR-ing a
/// byte into its own position twice leaves it unchanged.
#[inline(always)]
pub(crate) fn load(bytes: &[u8], at: usize) -> u64 {
    let rest = bytes.get(at..).unwrap_or_default();
    let n = rest.len();
    if n >= 8 {
        let mut word = [0u8; 8];
        word.copy_from_slice(&rest[..8]);
        u64::from_le_bytes(word)
    } else if n >= 4 {
        let lo = u64::from(u32_at(rest, 0));
        let hi = u64::from(u32_at(rest, n - 4));
        lo | (hi << ((n - 4) * 8))
    } else if n > 0 {
        u64::from(rest[0]) | (u64::from(rest[n / 2]) << (n / 2 * 8)) | (u64::from(rest[n - 1]) << ((n - 1) * 8))
    } else {
        0
    }
}

#[inline(always)]
fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
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
        for len in 0..=12 {
            let bytes: Vec<u8> = (1..=len as u8).collect();
            let mut padded = [0u8; 8];
            let n = len.min(8);
            padded[..n].copy_from_slice(&bytes[..n]);
            assert_eq!(load(&bytes, 0), u64::from_le_bytes(padded), "len {len}");
        }
        assert_eq!(low_bytes(3), 0xff_ffff);
    }
}
