//! A stable 64-bit hash: FNV-1a over the bytes, then the MurmurHash3 finaliser so every
//! output bit depends on every input bit (plain FNV-1a's low bits only see the inputs'
//! low bits). Fixed forever: changing it would move every sticky key to another upstream.

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(FNV_PRIME))
}

/// MurmurHash3's `fmix64`: a bijection that spreads every bit over the whole word.
pub(crate) fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

pub(crate) fn stable(bytes: &[u8]) -> u64 {
    mix(fnv1a(bytes))
}

/// Maps a uniform `hash` onto `0..total` from its high bits (Lemire's multiply-shift),
/// without the bias or the division of `%`.
pub(crate) fn scale(hash: u64, total: u64) -> u64 {
    ((u128::from(hash) * u128::from(total)) >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn stable_hash_is_pinned() {
        // Sticky assignments survive upgrades only while these hold.
        assert_eq!(stable(b""), 0xefd0_1f60_ba99_2926);
        assert_eq!(stable(b"user-1"), 0x41a2_fca5_c684_01c5);
        assert_eq!(stable(b"alice"), 0x3507_d047_a67c_08f4);
    }

    #[test]
    fn scale_stays_in_range() {
        for total in [1, 2, 7, 100, u64::from(u32::MAX) * 8] {
            assert_eq!(scale(0, total), 0);
            assert_eq!(scale(u64::MAX, total), total - 1);
        }
    }
}
