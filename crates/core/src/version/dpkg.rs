//! Debian package versions, ordered as Debian Policy §5.6.12 and dpkg's `verrevcmp` do:
//! `[epoch:]upstream[-revision]`, compared epoch first (numerically), then upstream, then
//! revision. Within a part, non-digit runs compare character by character where `~` sorts
//! before everything (even the end of the string), letters before non-letters, and digit
//! runs compare numerically.
//!
//! Written from the policy text rather than taken from a crate so that the ordering the
//! matcher relies on (`1:7.2+dfsg-7+deb12u18` > `…u2`) is tested here, next to its code.

use std::cmp::Ordering;

use super::{epoch_then_parts, split_epoch, VersionError};

/// A parsed Debian version. Equality follows the ordering (`1.0` == `1.00`, `0:1` == `1`).
#[derive(Debug, Clone)]
pub struct DpkgVersion {
    original: String,
    epoch: u64,
    upstream: String,
    revision: String,
}

impl DpkgVersion {
    /// Parses `[epoch:]upstream[-revision]`; the revision is everything after the last `-`.
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        let invalid = |why: &str| VersionError::new("dpkg", text, why);
        let (epoch, rest) = split_epoch(text, invalid)?;
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((u, r)) => (u, r),
            None => (rest, ""),
        };
        if upstream.is_empty() {
            return Err(invalid("empty upstream version"));
        }
        if !upstream.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
            return Err(invalid("upstream version must start with a digit"));
        }
        let upstream_ok =
            |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-' | b'~');
        if !upstream.bytes().all(upstream_ok) {
            return Err(invalid("bad character in the upstream version"));
        }
        if rest.contains('-') && revision.is_empty() {
            return Err(invalid("empty revision after '-'"));
        }
        let revision_ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'~');
        if !revision.bytes().all(revision_ok) {
            return Err(invalid("bad character in the revision"));
        }
        Ok(Self {
            original: text.to_owned(),
            epoch,
            upstream: upstream.to_owned(),
            revision: revision.to_owned(),
        })
    }

    /// The text this version was parsed from.
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// The epoch (0 when absent).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The upstream part, without epoch and revision (`7.2+dfsg`).
    pub fn upstream(&self) -> &str {
        &self.upstream
    }

    /// The Debian revision (`7+deb12u18`), empty for native packages.
    pub fn revision(&self) -> &str {
        &self.revision
    }
}

/// The weight of one non-digit character: `~` lowest (below the end of the string, which
/// weighs 0), then letters, then every other character.
fn weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp` on one part (upstream or revision).
fn compare_part(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0usize, 0usize);
    let digit_at = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit_at(a, i)) || (j < b.len() && !digit_at(b, j)) {
            let wa = weight(a.get(i).copied());
            let wb = weight(b.get(j).copied());
            if wa != wb {
                return wa.cmp(&wb);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit_at(a, i) && digit_at(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit_at(a, i) {
            return Ordering::Greater;
        }
        if digit_at(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

impl Ord for DpkgVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        epoch_then_parts(
            (self.epoch, &self.upstream, &self.revision),
            (other.epoch, &other.upstream, &other.revision),
            compare_part,
        )
    }
}

ordered_by_scheme!(DpkgVersion);

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> DpkgVersion {
        match DpkgVersion::parse(s) {
            Ok(v) => v,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn debian_12_qemu_security_updates_order_numerically() {
        assert!(v("1:7.2+dfsg-7+deb12u18") > v("1:7.2+dfsg-7+deb12u2"));
        assert!(v("1:7.2+dfsg-7+deb12u2") > v("1:7.2+dfsg-7"));
        assert!(v("1:7.2+dfsg-7+deb12u18") < v("1:8.0+dfsg-1"));
    }

    #[test]
    fn tilde_sorts_before_everything() {
        assert!(v("1.0~rc1") < v("1.0"));
        assert!(v("1.0~~") < v("1.0~"));
        assert!(v("1.0~rc1") < v("1.0~rc2"));
        assert!(v("1.0~rc1-1") < v("1.0-1"));
        assert!(v("98.0.4758.102-1~deb11u1") < v("98.0.4758.102-1"));
    }

    #[test]
    fn epoch_beats_everything() {
        assert!(v("1:0.1") > v("99999.0-9"));
        assert!(v("0:1.0") == v("1.0"));
        assert!(v("2:1.0") > v("1:9.9"));
    }

    #[test]
    fn binnmu_and_revisions() {
        assert!(v("2.0-1+b1") > v("2.0-1"));
        assert!(v("2.0-1") < v("2.0-2"));
        assert!(v("2.0") < v("2.0-1"));
        assert!(v("1.0a") > v("1.0"));
        assert!(v("1.0a") < v("1.0+"), "letters sort before non-letters");
        assert!(v("1.00") == v("1.0"));
        assert!(v("1.10") > v("1.9"));
    }

    #[test]
    fn accessors_split_the_parts() {
        let q = v("1:7.2+dfsg-7+deb12u18");
        assert_eq!(
            (q.epoch(), q.upstream(), q.revision()),
            (1, "7.2+dfsg", "7+deb12u18")
        );
        let h = v("1.2-3-4");
        assert_eq!((h.upstream(), h.revision()), ("1.2-3", "4"));
    }

    #[test]
    fn rejects_malformed_versions() {
        for bad in [
            "", "a1.0", "x:1.0", ":1.0", "1:", "1.0-", "1.0 2", "1.0/2", "1.0-a_b",
        ] {
            assert!(DpkgVersion::parse(bad).is_err(), "{bad:?} parsed");
        }
    }
}
