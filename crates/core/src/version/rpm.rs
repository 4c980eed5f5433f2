//! RPM versions, ordered as `rpmvercmp` does (rpm ≥ 4.15): `[epoch:]version[-release]`;
//! each part is split into runs of digits or of letters, separators are skipped, digit runs
//! compare numerically and beat letter runs, `~` sorts before anything (even the end) and
//! `^` sorts after the end but before any further segment.

use std::cmp::Ordering;

use super::{epoch_then_parts, split_epoch, VersionError};

/// A parsed RPM version. Equality follows the ordering (`1.0` == `1_0`).
#[derive(Debug, Clone)]
pub struct RpmVersion {
    original: String,
    epoch: u64,
    version: String,
    release: String,
}

impl RpmVersion {
    /// Parses `[epoch:]version[-release]`; the release is everything after the last `-`.
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        let invalid = |why: &str| VersionError::new("rpm", text, why);
        let (epoch, rest) = split_epoch(text, invalid)?;
        let (version, release) = match rest.rsplit_once('-') {
            Some((v, r)) if !r.is_empty() => (v, r),
            Some(_) => return Err(invalid("empty release after '-'")),
            None => (rest, ""),
        };
        if version.is_empty() {
            return Err(invalid("empty version part"));
        }
        let ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'~' | b'^');
        if !version.bytes().all(ok) || !release.bytes().all(ok) {
            return Err(invalid("bad character"));
        }
        Ok(Self {
            original: text.to_owned(),
            epoch,
            version: version.to_owned(),
            release: release.to_owned(),
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

    /// The version part (`8.2.0`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The release part (`11.el9_4`), empty when absent.
    pub fn release(&self) -> &str {
        &self.release
    }
}

/// `rpmvercmp` on one part.
pub(crate) fn rpmvercmp(a: &[u8], b: &[u8]) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let sep = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    let (mut i, mut j) = (0usize, 0usize);
    while i < a.len() || j < b.len() {
        while i < a.len() && sep(a[i]) {
            i += 1;
        }
        while j < b.len() && sep(b[j]) {
            j += 1;
        }
        let (ca, cb) = (a.get(i).copied(), b.get(j).copied());
        if ca == Some(b'~') || cb == Some(b'~') {
            if ca != Some(b'~') {
                return Ordering::Greater;
            }
            if cb != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca == Some(b'^') || cb == Some(b'^') {
            match (ca, cb) {
                (None, _) => return Ordering::Less,
                (_, None) => return Ordering::Greater,
                (Some(x), _) if x != b'^' => return Ordering::Greater,
                (_, Some(y)) if y != b'^' => return Ordering::Less,
                _ => {}
            }
            i += 1;
            j += 1;
            continue;
        }
        let (Some(first), Some(_)) = (ca, cb) else {
            break;
        };
        let numeric = first.is_ascii_digit();
        let class = |c: &u8| {
            if numeric {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let end_a = i + a[i..].iter().take_while(|c| class(c)).count();
        let end_b = j + b[j..].iter().take_while(|c| class(c)).count();
        if end_b == j {
            // The segments are of different kinds: a number is newer than letters.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (mut sa, mut sb) = (&a[i..end_a], &b[j..end_b]);
        if numeric {
            while sa.first() == Some(&b'0') {
                sa = &sa[1..];
            }
            while sb.first() == Some(&b'0') {
                sb = &sb[1..];
            }
            match sa.len().cmp(&sb.len()) {
                Ordering::Equal => {}
                longer => return longer,
            }
        }
        match sa.cmp(sb) {
            Ordering::Equal => {}
            unequal => return unequal,
        }
        i = end_a;
        j = end_b;
    }
    match (i < a.len(), j < b.len()) {
        (false, false) => Ordering::Equal,
        (true, _) => Ordering::Greater,
        (false, true) => Ordering::Less,
    }
}

impl Ord for RpmVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        epoch_then_parts(
            (self.epoch, &self.version, &self.release),
            (other.epoch, &other.version, &other.release),
            rpmvercmp,
        )
    }
}

ordered_by_scheme!(RpmVersion);

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> RpmVersion {
        match RpmVersion::parse(s) {
            Ok(v) => v,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn rhel_qemu_kvm_releases_order() {
        assert!(v("8.2.0-11.el9_4") < v("8.2.0-11.el9_4.1"));
        assert!(v("8.2.0-11.el9_4.1") < v("8.2.0-12.el9"));
        assert!(v("17:8.2.0-11.el9_4") > v("9.0.0-1.el9"));
    }

    #[test]
    fn tilde_and_caret() {
        assert!(v("1.0~rc1") < v("1.0"));
        assert!(v("1.0^git1") > v("1.0"));
        assert!(v("1.0^git1") < v("1.0.1"));
        assert!(v("1.0~rc1") < v("1.0~rc2"));
        assert!(v("1.0^") > v("1.0"));
    }

    #[test]
    fn segments_numbers_and_letters() {
        assert!(v("1.10") > v("1.9"));
        assert!(v("1.0a") > v("1.0"));
        assert!(v("1.a") < v("1.1"), "a number beats letters");
        assert!(v("1.0") == v("1_0"));
        assert!(v("1.001") == v("1.1"));
        assert!(v("2.0") < v("2.0-1"));
    }

    #[test]
    fn accessors_and_rejects() {
        let q = v("17:8.2.0-11.el9_4");
        assert_eq!(
            (q.epoch(), q.version(), q.release()),
            (17, "8.2.0", "11.el9_4")
        );
        for bad in ["", "x:1", "1.0-", "1 0", "1/0"] {
            assert!(RpmVersion::parse(bad).is_err(), "{bad:?} parsed");
        }
    }
}
