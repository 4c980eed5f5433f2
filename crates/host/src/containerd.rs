//! The containerd binary and the version it was built as, found without running it.
//!
//! containerd sets its version at link time (`-X <module>/version.Version=...`), so a build
//! has no banner such as QEMU's. Two strings give it away instead:
//!
//! - the source tree's default, `Version = "X.Y.Z+unknown"` in `version/version.go`, which
//!   every release tag bumps (v1.6.20: `1.6.20+unknown`, v2.0.0: `2.0.0+unknown`) and which
//!   stays in `.rodata` after `-X` replaced the variable's value (Debian 12's
//!   `/usr/bin/containerd`, 1.6.20~ds1-1+deb12u3, holds `1.6.20+unknown` at byte 0x1e7ec7e);
//! - the Go build information of a module-mode build, which records the link flags
//!   (`-X github.com/containerd/containerd/v2/version.Version=v2.0.2`).
//!
//! The binary is searched like a hypervisor's (`.rodata` first, then the whole file); when
//! neither string is there the owning package's version is used.

use crate::binfacts::{BinaryFactsCache, Fact, FactQuery};
use crate::hypervisors::scan::search_file;
use crate::packages;
use hvguard_core::{ContainerdBinary, HostRoot, Package, Probe, VersionSource};
use memchr::memmem::Finder;
use std::collections::BTreeSet;
use std::io::{self, Read, Seek};
use std::path::Path;

/// Where installers put containerd: Debian/Ubuntu/RHEL packages, the upstream release
/// tarball (`/usr/local/bin`), Flatcar and kubespray-style installs (`/opt/bin`).
pub const CONTAINERD_PATHS: &[&str] = &[
    "/usr/bin/containerd",
    "/usr/local/bin/containerd",
    "/usr/sbin/containerd",
    "/usr/local/sbin/containerd",
    "/opt/bin/containerd",
];

/// The source default's suffix.
const UNKNOWN_SUFFIX: &[u8] = b"+unknown";
/// The link-time variable, as Go build information records it.
const VERSION_FLAG: &[u8] = b"/version.Version=";
/// Module paths whose `version.Version` is containerd's.
const MODULES: [&str; 2] = [
    "github.com/containerd/containerd/v2",
    "github.com/containerd/containerd",
];
/// Longest version text considered.
const MAX_VERSION: usize = 64;

/// What discovery found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerdBinaries {
    pub binaries: Vec<ContainerdBinary>,
    /// Binaries that could not be looked at, and why.
    pub warnings: Vec<String>,
}

/// Finds the containerd binaries under `root` and their versions.
pub fn discover(root: &HostRoot, packages: &Probe<Vec<Package>>) -> ContainerdBinaries {
    discover_cached(root, packages, &mut BinaryFactsCache::default())
}

/// [`discover`], with the versions read out of unchanged binaries taken from `facts` (and the
/// ones read now added to it).
pub fn discover_cached(
    root: &HostRoot,
    packages: &Probe<Vec<Package>>,
    facts: &mut BinaryFactsCache,
) -> ContainerdBinaries {
    let installed = packages.value().map_or(&[][..], Vec::as_slice);
    let mut out = ContainerdBinaries::default();
    let mut seen = BTreeSet::new();
    for path in CONTAINERD_PATHS.iter().map(Path::new) {
        let meta = match root.metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.is_not_found() => continue,
            Err(e) => {
                out.warnings.push(e.to_string());
                continue;
            }
        };
        if !meta.is_file() {
            out.warnings
                .push(format!("{}: not a regular file", path.display()));
            continue;
        }
        // `/usr/sbin/containerd -> ../bin/containerd` is one binary.
        if !root.canonical(path).is_ok_and(|real| seen.insert(real)) {
            continue;
        }
        let found = match facts.lookup(&meta, FactQuery::ContainerdVersion) {
            Some(Fact::ContainerdVersion(found)) => found,
            _ => read_version(root, path, facts, &mut out.warnings),
        };
        let package = packages::owner_of(root, installed, path);
        let (version, version_source, version_evidence) = match (found, &package) {
            (Some(found), _) => (
                Some(found.version),
                Some(VersionSource::BinaryString),
                Some(found.evidence),
            ),
            (None, Some(p)) => (
                Some(packages::upstream_version(&p.version).to_string()),
                Some(VersionSource::Package),
                Some(format!("package {} {}", p.name, p.version)),
            ),
            (None, None) => (None, None, None),
        };
        out.binaries.push(ContainerdBinary {
            path: path.to_path_buf(),
            version,
            version_source,
            version_evidence,
            package,
        });
    }
    out
}

/// The version read out of the containerd binary at `path`, remembered in `facts`.
fn read_version(
    root: &HostRoot,
    path: &Path,
    facts: &mut BinaryFactsCache,
    warnings: &mut Vec<String>,
) -> Option<FoundVersion> {
    let (file, meta) = match root.open_file(path) {
        Ok(opened) => opened,
        Err(e) => {
            warnings.push(e.to_string());
            return None;
        }
    };
    match version_in_file(&mut &file, meta.len()) {
        Ok(found) => {
            let fact = Fact::ContainerdVersion(found.clone());
            facts.record(&file, &meta, FactQuery::ContainerdVersion, fact);
            found
        }
        Err(e) => {
            warnings.push(format!("{}: {e}", path.display()));
            None
        }
    }
}

/// A version read from a binary, and the text it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundVersion {
    /// `1.6.20`, `2.0.2`.
    pub version: String,
    pub evidence: String,
}

/// The version containerd was built as, from `.rodata` or else the whole file.
pub fn version_in_file<F: Read + Seek>(
    file: &mut F,
    file_len: u64,
) -> io::Result<Option<FoundVersion>> {
    let unknown = Finder::new(UNKNOWN_SUFFIX);
    let flag = Finder::new(VERSION_FLAG);
    let keep = MAX_VERSION + 64;
    let found = search_file(file, file_len, keep, |buf, limit| {
        let a = unknown
            .find_iter(buf)
            .take_while(|&at| at < limit)
            .find_map(|at| source_default(buf, at));
        let b = flag
            .find_iter(buf)
            .take_while(|&at| at < limit)
            .find_map(|at| link_flag(buf, at));
        match (a, b) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        }
    })?;
    Ok(found.map(|(_, v)| v))
}

/// `X.Y.Z[-pre]+unknown` ending at `at`: the version is the longest run before the suffix
/// that starts a number not glued to another number (strings are packed without separators:
/// Debian's reads `/var/run/netns1.6.20+unknown`).
fn source_default(buf: &[u8], at: usize) -> Option<(usize, FoundVersion)> {
    let start = at.saturating_sub(MAX_VERSION);
    let run_start = buf[start..at]
        .iter()
        .rposition(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')))
        .map_or(start, |i| start + i + 1);
    (run_start..at).find_map(|s| {
        let glued = s > 0 && (buf[s - 1].is_ascii_digit() || buf[s - 1] == b'.');
        if glued || !buf[s].is_ascii_digit() {
            return None;
        }
        let text = std::str::from_utf8(&buf[s..at]).ok()?;
        is_release(text).then(|| {
            (
                s,
                FoundVersion {
                    version: text.to_string(),
                    evidence: format!("{text}+unknown"),
                },
            )
        })
    })
}

/// `<module>/version.Version=<value>` with `<module>` containerd's.
fn link_flag(buf: &[u8], at: usize) -> Option<(usize, FoundVersion)> {
    let module = MODULES.iter().find(|m| buf[..at].ends_with(m.as_bytes()))?;
    let value_start = at + VERSION_FLAG.len();
    let rest = buf.get(value_start..)?;
    let len = rest
        .iter()
        .take(MAX_VERSION)
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b'~' | b'_')))
        .unwrap_or(rest.len().min(MAX_VERSION));
    let raw = std::str::from_utf8(&rest[..len]).ok()?;
    let version = raw.strip_prefix('v').unwrap_or(raw);
    let core_len = version
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(version.len());
    if !is_release(&version[..core_len]) {
        return None;
    }
    Some((
        at - module.len(),
        FoundVersion {
            version: version.to_string(),
            evidence: format!("-X {module}/version.Version={raw}"),
        },
    ))
}

/// `X.Y.Z` or `X.Y.Z-<pre-release>`, numbers without leading garbage.
fn is_release(text: &str) -> bool {
    let (core, pre) = match text.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (text, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit()))
        && pre.is_none_or(|p| {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::hypervisors::elf::build_elf64;
    use std::io::Cursor;

    fn find(bytes: &[u8]) -> Option<FoundVersion> {
        version_in_file(&mut Cursor::new(bytes), bytes.len() as u64).unwrap()
    }

    #[test]
    fn debian_packed_source_default() {
        let rodata = b"/proc/self/mem/sys/fs/cgroup/tasks/resumed/var/run/netns1.6.20+unknown19073486328125404: Not Found";
        let elf = build_elf64(&[(".text", b"\x90"), (".rodata", rodata)]);
        let v = find(&elf).unwrap();
        assert_eq!(v.version, "1.6.20");
        assert_eq!(v.evidence, "1.6.20+unknown");
    }

    #[test]
    fn pre_release_and_glued_numbers() {
        assert_eq!(find(b"xx2.0.0-rc.4+unknown").unwrap().version, "2.0.0-rc.4");
        // A longer number run is not split into a plausible version.
        assert_eq!(find(b"11.6.20+unknown").unwrap().version, "11.6.20");
        assert_eq!(find(b"1.2+unknown 9.9+unknown"), None);
        assert_eq!(find(b"no version here"), None);
    }

    #[test]
    fn link_flags_of_a_module_build() {
        let info = b"\x00build\t-ldflags=\"-X github.com/containerd/containerd/v2/version.Version=v2.0.2 -X github.com/containerd/containerd/v2/version.Revision=c507a0257\"\n";
        let v = find(info).unwrap();
        assert_eq!(v.version, "2.0.2");
        assert_eq!(
            v.evidence,
            "-X github.com/containerd/containerd/v2/version.Version=v2.0.2"
        );
        let other = b"-X github.com/example/thing/version.Version=9.9.9 ";
        assert_eq!(find(other), None);
    }

    #[test]
    fn finds_no_binary_in_an_empty_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = HostRoot::new(dir.path()).unwrap();
        let found = discover(&root, &Probe::found(Vec::new()));
        assert!(found.binaries.is_empty());
        assert!(found.warnings.is_empty());
    }
}
