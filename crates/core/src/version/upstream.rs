//! Upstream release versions as projects publish them: `7.2.22`, `v1.12.1`, `47.0`,
//! `8.2.0-rc1`, and the strict SemVer flavour used by OSV `SEMVER` ranges and crates.io.
//!
//! The lenient flavour exists because hypervisor projects do not follow SemVer: Cloud
//! Hypervisor numbers releases `47.0`, Kata's advisories say `1.9` for the whole 1.9 line, and
//! NVD bounds sometimes carry a distro-style suffix (`6.2.0-7`). Missing trailing components
//! count as zero (`1.10` == `1.10.0`), so a bound written short still compares sensibly.

use std::cmp::Ordering;

use super::VersionError;

/// One dot- or dash-separated identifier of a suffix, compared SemVer-style: numbers
/// numerically, numbers before words, words in ASCII order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Ident {
    Num(u64),
    Word(String),
}

impl Ord for Ident {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Ident::Num(a), Ident::Num(b)) => a.cmp(b),
            (Ident::Num(_), Ident::Word(_)) => Ordering::Less,
            (Ident::Word(_), Ident::Num(_)) => Ordering::Greater,
            (Ident::Word(a), Ident::Word(b)) => a.cmp(b),
        }
    }
}

impl PartialOrd for Ident {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Where a `-suffix` sorts relative to the bare release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum SuffixKind {
    /// `-rc1`, `-alpha1`: before the release (SemVer pre-release).
    Pre,
    /// No suffix.
    Release,
    /// `-7` in lenient mode: a packaging revision after the release, as distros write it.
    Post,
}

/// A parsed upstream version. Equality follows the ordering (`1.10` == `1.10.0`).
#[derive(Debug, Clone)]
pub struct UpstreamVersion {
    original: String,
    numbers: Vec<u64>,
    kind: SuffixKind,
    suffix: Vec<Ident>,
}

impl UpstreamVersion {
    /// Parses leniently: an optional leading `v`, dotted numbers, an optional `-suffix`
    /// (a pre-release when it starts with a letter, a post-release revision when it starts
    /// with a digit) and optional `+build` metadata, which is ignored.
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        Self::parse_with(text, false)
    }

    /// Parses as SemVer 2.0 (every `-suffix` is a pre-release, so `0.0.0-0` is the lowest
    /// version there is), still accepting a leading `v` and short forms like `1.2`.
    pub fn parse_semver(text: &str) -> Result<Self, VersionError> {
        Self::parse_with(text, true)
    }

    fn parse_with(text: &str, strict_pre: bool) -> Result<Self, VersionError> {
        let invalid = |why: &str| VersionError::new("upstream", text, why);
        let trimmed = text.trim();
        let body = trimmed
            .strip_prefix('v')
            .or_else(|| trimmed.strip_prefix('V'))
            .unwrap_or(trimmed);
        let body = body.split_once('+').map_or(body, |(head, _build)| head);
        let (release, suffix) = match body.split_once('-') {
            Some((r, s)) => (r, Some(s)),
            None => (body, None),
        };
        if release.is_empty() {
            return Err(invalid("no version number"));
        }
        let numbers = release
            .split('.')
            .map(|part| {
                if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                    Err(invalid("release part is not a dotted list of numbers"))
                } else {
                    part.parse::<u64>().map_err(|_| invalid("number too large"))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (kind, suffix) = match suffix {
            None => (SuffixKind::Release, Vec::new()),
            Some(s) => {
                let idents = s
                    .split(['.', '-'])
                    .map(|part| {
                        if part.is_empty()
                            || !part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'~')
                        {
                            Err(invalid("bad character or empty part in the suffix"))
                        } else if part.bytes().all(|b| b.is_ascii_digit()) {
                            part.parse::<u64>()
                                .map(Ident::Num)
                                .map_err(|_| invalid("number too large"))
                        } else {
                            Ok(Ident::Word(part.to_ascii_lowercase()))
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let starts_with_digit = s.bytes().next().is_some_and(|b| b.is_ascii_digit());
                let kind = if strict_pre || !starts_with_digit {
                    SuffixKind::Pre
                } else {
                    SuffixKind::Post
                };
                (kind, idents)
            }
        };
        Ok(Self {
            original: text.to_owned(),
            numbers,
            kind,
            suffix,
        })
    }

    /// The text this version was parsed from.
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// The dotted release numbers (`[7, 2, 22]` for `7.2.22`), as written: no padding.
    pub fn release(&self) -> &[u64] {
        &self.numbers
    }

    /// True for `-rc1`-style pre-releases.
    pub fn is_prerelease(&self) -> bool {
        self.kind == SuffixKind::Pre
    }
}

impl Ord for UpstreamVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let len = self.numbers.len().max(other.numbers.len());
        for i in 0..len {
            let a = self.numbers.get(i).copied().unwrap_or(0);
            let b = other.numbers.get(i).copied().unwrap_or(0);
            match a.cmp(&b) {
                Ordering::Equal => {}
                unequal => return unequal,
            }
        }
        self.kind
            .cmp(&other.kind)
            .then_with(|| self.suffix.cmp(&other.suffix))
    }
}

ordered_by_scheme!(UpstreamVersion);

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> UpstreamVersion {
        match UpstreamVersion::parse(s) {
            Ok(v) => v,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn real_hypervisor_versions_order() {
        assert!(v("7.2.22") > v("7.2.3"));
        assert!(v("v1.12.1") == v("1.12.1"));
        assert!(v("47.0") > v("8.2.0"));
        assert!(v("8.2.0-rc1") < v("8.2.0"));
        assert!(v("8.2.0-rc1") > v("8.1.5"));
        assert!(v("2.0.0-alpha1") < v("2.0.0-rc1"));
        assert!(v("1.10") == v("1.10.0"));
        assert!(v("1.9.3") > v("1.9"));
        assert!(v("6.2.0-7") > v("6.2.0"));
        assert!(v("6.2.0-7") < v("6.2.1"));
        assert!(v("3.1.0-rc0") < v("3.1.0-rc1"));
        assert!(v("1.2.3+build5") == v("1.2.3"));
    }

    #[test]
    fn semver_treats_every_suffix_as_prerelease() {
        let lowest = UpstreamVersion::parse_semver("0.0.0-0").map_err(|e| e.to_string());
        let zero = UpstreamVersion::parse_semver("0.0.0").map_err(|e| e.to_string());
        assert!(lowest < zero);
        assert!(
            UpstreamVersion::parse_semver("0.2.0-0").map_err(|e| e.to_string())
                < UpstreamVersion::parse_semver("0.2.0").map_err(|e| e.to_string())
        );
    }

    #[test]
    fn rejects_text_that_is_not_a_version() {
        for bad in [
            "",
            "n/a",
            "unspecified",
            "QEMU versions before 5.2.0",
            "1..2",
            "1.x",
            "-rc1",
            "1.0-",
        ] {
            assert!(UpstreamVersion::parse(bad).is_err(), "{bad:?} parsed");
        }
    }
}
