//! Integrity facts: what the package manager recorded about a hypervisor's files and what is on
//! disk now, and the digests of the hypervisor binaries themselves. Collected, never evaluated
//! here; `hypervisor.binary-modified` judges them.

use crate::{PackageManager, Probe};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// A digest algorithm hvguard computes or reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DigestAlgorithm {
    /// What dpkg records in `var/lib/dpkg/info/<pkg>.md5sums`.
    Md5,
    /// What hvguard records for every hypervisor binary (and RPM records on current distros).
    Sha256,
}

impl DigestAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            DigestAlgorithm::Md5 => "md5",
            DigestAlgorithm::Sha256 => "sha256",
        }
    }

    /// Length of the lowercase hex form.
    pub fn hex_len(self) -> usize {
        match self {
            DigestAlgorithm::Md5 => 32,
            DigestAlgorithm::Sha256 => 64,
        }
    }
}

impl fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DigestAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "md5" => Ok(DigestAlgorithm::Md5),
            "sha256" => Ok(DigestAlgorithm::Sha256),
            other => Err(format!("unknown digest algorithm `{other}`")),
        }
    }
}

/// What `stat` says about a file's contents: while all five are unchanged, the bytes are taken
/// to be unchanged and a cached digest is reused. `ctime` cannot be set from user space, so a
/// file rewritten and given its old `mtime` back still misses the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FileIdentity {
    pub device: u64,
    pub inode: u64,
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// Status change time, nanoseconds since the epoch.
    pub ctime_ns: i64,
}

/// A digest remembered for a file identity (the store's digest cache holds these).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CachedDigest {
    pub identity: FileIdentity,
    pub algorithm: DigestAlgorithm,
    /// Lowercase hex.
    pub digest: String,
}

/// Everything the integrity check learnt about one host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntegrityFacts {
    /// Hypervisor-related packages checked against the digests their package manager recorded.
    pub packages: Probe<Vec<PackageIntegrity>>,
    /// SHA-256 of every discovered hypervisor binary, sorted by path.
    #[serde(default)]
    pub binaries: Vec<BinaryDigest>,
    /// The approved digests of the static (unpackaged) hypervisor binaries, attached from the
    /// baseline in the store when there is one.
    #[serde(default)]
    pub baseline: Option<IntegrityBaseline>,
}

impl Default for IntegrityFacts {
    /// What a Snapshot written before integrity facts existed reads as: unknown, not clean.
    fn default() -> Self {
        IntegrityFacts {
            packages: Probe::unsupported(
                "package digests were not collected (snapshot written by an older hvguard)",
            ),
            binaries: Vec::new(),
            baseline: None,
        }
    }
}

impl IntegrityFacts {
    /// The digest of the binary at `path`, if it was hashed.
    pub fn binary(&self, path: &std::path::Path) -> Option<&BinaryDigest> {
        self.binaries.iter().find(|b| b.path == path)
    }
}

/// One package's files compared with the digests its package manager recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageIntegrity {
    pub manager: PackageManager,
    pub package: String,
    pub version: String,
    /// The file the recorded digests came from (`/var/lib/dpkg/info/qemu-system-x86.md5sums`).
    pub digests_path: PathBuf,
    pub algorithm: DigestAlgorithm,
    /// Files compared (matching or not).
    pub checked: u32,
    /// Files whose bytes differ from the record.
    #[serde(default)]
    pub modified: Vec<ModifiedFile>,
    /// Files the package recorded that are not on disk.
    #[serde(default)]
    pub missing: Vec<PathBuf>,
    /// Files that could not be read or hashed, with the reason.
    #[serde(default)]
    pub unreadable: Vec<UnreadableFile>,
    /// Why the package could not be checked at all (no digest list, a broken one).
    #[serde(default)]
    pub unknown: Option<String>,
}

/// A packaged file whose digest differs from the recorded one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModifiedFile {
    /// The file as the host sees it (`/usr/bin/qemu-system-x86_64`).
    pub path: PathBuf,
    /// The digest the package recorded.
    pub expected: String,
    /// The digest of the bytes on disk.
    pub actual: String,
    /// 1-based line of the record in the digest list.
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnreadableFile {
    pub path: PathBuf,
    pub reason: String,
}

/// The SHA-256 of one hypervisor binary.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BinaryDigest {
    pub path: PathBuf,
    /// Lowercase hex.
    pub sha256: String,
    /// True when a package owns the binary (its bytes are judged by the package's digests);
    /// false for a static binary, judged against the baseline.
    pub packaged: bool,
    /// The Kata release the binary came with (`opt/kata/VERSION`), for static Kata binaries.
    #[serde(default)]
    pub kata_release: Option<String>,
}

/// The digests approved with the baseline (`hvguard baseline set`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrityBaseline {
    /// The history record the baseline is.
    pub record: i64,
    /// When the baseline was approved (RFC 3339).
    pub approved_at: String,
    /// The Kata release installed then (`opt/kata/VERSION`); a different release now is a
    /// recorded update.
    pub kata_release: Option<String>,
    /// The binaries' digests then.
    pub binaries: Vec<BinaryDigest>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_snapshots_read_as_unknown() {
        let facts = IntegrityFacts::default();
        assert!(facts.packages.unknown_reason().is_some());
        let back: IntegrityFacts =
            serde_json::from_str(r#"{"packages":{"status":"found","value":[]}}"#).unwrap();
        assert!(back.binaries.is_empty() && back.baseline.is_none());
    }

    #[test]
    fn algorithms_round_trip() {
        for a in [DigestAlgorithm::Md5, DigestAlgorithm::Sha256] {
            assert_eq!(a.as_str().parse::<DigestAlgorithm>(), Ok(a));
        }
        assert_eq!(DigestAlgorithm::Sha256.hex_len(), 64);
        assert!("crc".parse::<DigestAlgorithm>().is_err());
    }
}
