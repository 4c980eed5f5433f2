//! A stable hash for SARIF `partialFingerprints`.
//!
//! FNV-1a (64 bit) because its output is fixed by definition: std's `DefaultHasher` may change
//! between Rust releases, which would turn every alert into a new one after an upgrade.

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// Hashes the parts with a separator byte that cannot occur in UTF-8 text, so that
/// `("ab", "c")` and `("a", "bc")` differ. Returns 16 lowercase hex digits.
pub(crate) fn fnv1a_hex(parts: &[&str]) -> String {
    let mut hash = OFFSET;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0xff)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_published_fnv1a_vectors() {
        // FNV-1a 64 of "a" is af63dc4c8601ec8c; our separator adds one more round, so check
        // the core loop through the empty input and the separator's effect instead.
        let mut hash = OFFSET;
        for byte in b"a" {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(PRIME);
        }
        assert_eq!(format!("{hash:016x}"), "af63dc4c8601ec8c");
        assert_eq!(fnv1a_hex(&[]), "cbf29ce484222325");
    }

    #[test]
    fn separates_parts_and_is_stable() {
        assert_ne!(fnv1a_hex(&["ab", "c"]), fnv1a_hex(&["a", "bc"]));
        assert_eq!(fnv1a_hex(&["x", "y"]), fnv1a_hex(&["x", "y"]));
        assert_eq!(fnv1a_hex(&["host.kvm-unavailable"]).len(), 16);
    }
}
