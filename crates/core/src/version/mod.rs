//! Version schemes and their orderings.
//!
//! A version is only ever compared with another of the same scheme: an upstream `7.2.22`
//! and Debian's `1:7.2+dfsg-7+deb12u18` name different things, and comparing them is the
//! classic false positive this crate exists to avoid.

/// For a version type whose `Ord` is its scheme's ordering: equality and the partial order
/// follow that ordering (`1.0` == `1.00` in dpkg, not the text), and the version displays as
/// the text it was parsed from (its `as_str`).
macro_rules! ordered_by_scheme {
    ($version:ty) => {
        impl PartialOrd for $version {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl PartialEq for $version {
            fn eq(&self, other: &Self) -> bool {
                self.cmp(other) == std::cmp::Ordering::Equal
            }
        }

        impl Eq for $version {}

        impl std::fmt::Display for $version {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

mod dpkg;
mod rpm;
mod upstream;

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use dpkg::DpkgVersion;
pub use rpm::RpmVersion;
pub use upstream::UpstreamVersion;

/// A text that does not parse as a version of the named scheme.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{scheme} version {text:?}: {reason}")]
pub struct VersionError {
    scheme: &'static str,
    text: String,
    reason: String,
}

impl VersionError {
    pub(crate) fn new(scheme: &'static str, text: &str, reason: &str) -> Self {
        Self {
            scheme,
            text: text.to_owned(),
            reason: reason.to_owned(),
        }
    }
}

/// Splits the `[epoch:]rest` that starts dpkg and rpm versions: `text` trimmed must not be
/// empty, and an epoch, when there is one, is a whole number (0 when absent). `invalid` makes
/// the scheme's error from a reason.
fn split_epoch(
    text: &str,
    invalid: impl Fn(&str) -> VersionError,
) -> Result<(u64, &str), VersionError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(invalid("empty version"));
    }
    match trimmed.split_once(':') {
        Some((e, rest)) => {
            if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid("epoch is not a number"));
            }
            let epoch = e.parse::<u64>().map_err(|_| invalid("epoch too large"))?;
            Ok((epoch, rest))
        }
        None => Ok((0, trimmed)),
    }
}

/// dpkg's and rpm's order: epoch first (numerically), then the version part, then the
/// release (revision) part, each part by the scheme's own comparison `part`.
fn epoch_then_parts(
    a: (u64, &str, &str),
    b: (u64, &str, &str),
    part: fn(&[u8], &[u8]) -> Ordering,
) -> Ordering {
    a.0.cmp(&b.0)
        .then_with(|| part(a.1.as_bytes(), b.1.as_bytes()))
        .then_with(|| part(a.2.as_bytes(), b.2.as_bytes()))
}

/// How the versions of a range are written and ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VersionScheme {
    /// A project's own release numbers, read leniently (`v1.12.1`, `47.0`, `8.2.0-rc1`).
    Upstream,
    /// SemVer 2.0, as OSV `SEMVER` ranges and crates.io (OSV `ECOSYSTEM` for crates.io) use.
    Semver,
    /// Debian/Ubuntu package versions.
    Dpkg,
    /// RPM package versions (RHEL, Fedora, SUSE, ...).
    Rpm,
}

impl VersionScheme {
    /// The scheme's name as used in files and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            VersionScheme::Upstream => "upstream",
            VersionScheme::Semver => "semver",
            VersionScheme::Dpkg => "dpkg",
            VersionScheme::Rpm => "rpm",
        }
    }

    /// Parses `text` as a version of this scheme.
    pub fn parse(self, text: &str) -> Result<Version, VersionError> {
        Version::parse(self, text)
    }
}

impl fmt::Display for VersionScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VersionScheme {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "upstream" => Ok(Self::Upstream),
            "semver" => Ok(Self::Semver),
            "dpkg" => Ok(Self::Dpkg),
            "rpm" => Ok(Self::Rpm),
            _ => Err(VersionError::new("scheme", s, "unknown version scheme")),
        }
    }
}

/// A version tagged with its scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// See [`VersionScheme::Upstream`].
    Upstream(UpstreamVersion),
    /// See [`VersionScheme::Semver`].
    Semver(UpstreamVersion),
    /// See [`VersionScheme::Dpkg`].
    Dpkg(DpkgVersion),
    /// See [`VersionScheme::Rpm`].
    Rpm(RpmVersion),
}

impl Version {
    /// Parses `text` in `scheme`.
    pub fn parse(scheme: VersionScheme, text: &str) -> Result<Self, VersionError> {
        Ok(match scheme {
            VersionScheme::Upstream => Version::Upstream(UpstreamVersion::parse(text)?),
            VersionScheme::Semver => Version::Semver(UpstreamVersion::parse_semver(text)?),
            VersionScheme::Dpkg => Version::Dpkg(DpkgVersion::parse(text)?),
            VersionScheme::Rpm => Version::Rpm(RpmVersion::parse(text)?),
        })
    }

    /// The scheme this version belongs to.
    pub fn scheme(&self) -> VersionScheme {
        match self {
            Version::Upstream(_) => VersionScheme::Upstream,
            Version::Semver(_) => VersionScheme::Semver,
            Version::Dpkg(_) => VersionScheme::Dpkg,
            Version::Rpm(_) => VersionScheme::Rpm,
        }
    }

    /// The text the version was parsed from.
    pub fn as_str(&self) -> &str {
        match self {
            Version::Upstream(v) | Version::Semver(v) => v.as_str(),
            Version::Dpkg(v) => v.as_str(),
            Version::Rpm(v) => v.as_str(),
        }
    }

    /// Orders two versions of the same scheme; `None` across schemes, which have no order.
    pub fn compare(&self, other: &Version) -> Option<Ordering> {
        match (self, other) {
            (Version::Upstream(a), Version::Upstream(b))
            | (Version::Semver(a), Version::Semver(b)) => Some(a.cmp(b)),
            (Version::Dpkg(a), Version::Dpkg(b)) => Some(a.cmp(b)),
            (Version::Rpm(a), Version::Rpm(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
