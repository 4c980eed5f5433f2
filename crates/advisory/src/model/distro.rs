//! What a distribution says about an advisory for one of its releases.

use serde::{Deserialize, Serialize};

/// A distribution's verdict for one (release, source package).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DistroStatus {
    /// Fixed in `fixed_version`.
    Fixed,
    /// The release's package was never affected.
    NotAffected,
    /// Affected, no fix yet.
    Open,
    /// Affected, but the distro will not fix it (minor issue).
    Unimportant,
    /// The release is out of security support.
    EndOfLife,
    /// Not yet triaged.
    Undetermined,
}

/// One distro fact: for `package` in `distro`/`release`, the status and fixed version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DistroFix {
    /// `debian`, `rhel`, ...
    pub distro: String,
    /// The release codename or number (`bookworm`, `9`).
    pub release: String,
    /// The **source** package name (`qemu`).
    pub package: String,
    /// The verdict.
    pub status: DistroStatus,
    /// The first fixed version, in the distro's ordering (dpkg for Debian).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
    /// The distro's urgency, as written (`low`, `not yet assigned`, `unimportant`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urgency: Option<String>,
    /// Set when the fact was read from a package changelog (`hvguard update status` reads
    /// the changelog of the version the package manager would install) instead of a tracker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changelog: Option<ChangelogSource>,
}

/// The changelog a [`DistroFix`] was read from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChangelogSource {
    /// The binary package whose `changelog.Debian.gz` was read (`qemu-system-x86`).
    pub package: String,
    /// That package's version (the candidate, not the installed one).
    pub package_version: String,
    /// The 1-based line of the entry's header in the decompressed changelog.
    pub line: u32,
}

/// A distro fact about one CVE, as a tracker feed gives it (the CVE is the key that joins
/// it to an [`crate::Advisory`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DistroAdvisory {
    /// The CVE (or tracker) id.
    pub id: String,
    /// The fact.
    pub fix: DistroFix,
}
