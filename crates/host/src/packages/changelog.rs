//! Debian package changelogs (`/usr/share/doc/<pkg>/changelog.Debian.gz`): which CVEs each
//! entry says it fixed. The advisory matcher uses them as backport evidence, because a
//! distro package keeps its upstream version number while carrying later fixes.
//!
//! Only the packages owning a discovered hypervisor binary, and their siblings built from
//! the same source package, are read: a host has thousands of changelogs and none of the
//! others can change a hypervisor verdict.

use hvguard_core::{
    ChangelogEntry, HostRoot, Hypervisor, Package, PackageManager, Probe, RootError,
};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest compressed changelog read; QEMU's, the longest of its kind, is under 200 KiB.
pub const COMPRESSED_LIMIT: u64 = 8 << 20;

/// The largest decompressed changelog accepted: guards against a gzip bomb under `--root`.
pub const DECOMPRESSED_LIMIT: u64 = 64 << 20;

/// Why one changelog could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ChangelogError {
    /// Opening or reading through the root failed (too large, not a file, I/O).
    #[error(transparent)]
    Root(#[from] RootError),
    /// The gzip stream is corrupt or truncated.
    #[error("{path}: not a readable gzip stream: {cause}")]
    Gzip {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// The decompressed text exceeds [`DECOMPRESSED_LIMIT`].
    #[error("{path}: decompresses to more than {limit} bytes (refusing a possible gzip bomb)")]
    Bomb { path: PathBuf, limit: u64 },
}

/// What changelog collection found: CVE-bearing entries per package, and the changelogs
/// that exist but could not be read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changelogs {
    /// Package name -> entries naming at least one CVE, in file order (newest first).
    pub entries: BTreeMap<String, Vec<ChangelogEntry>>,
    /// One line per unusable changelog, naming its path.
    pub warnings: Vec<String>,
}

/// Where dpkg installs a package's Debian changelog, as the host sees it.
pub fn changelog_path(package: &str) -> PathBuf {
    Path::new("/usr/share/doc")
        .join(package)
        .join("changelog.Debian.gz")
}

/// Reads the changelogs of the dpkg packages that own a hypervisor in `hypervisors`, and of
/// every installed package built from the same source. A missing changelog is normal
/// (`--path-exclude` for docs is common on servers) and yields nothing; any other failure
/// is a warning.
pub fn collect(
    root: &HostRoot,
    packages: &Probe<Vec<Package>>,
    hypervisors: &[Hypervisor],
) -> Changelogs {
    let installed = packages.value().map_or(&[][..], Vec::as_slice);
    let owners: Vec<(&str, &str)> = hypervisors
        .iter()
        .filter_map(|h| h.package.as_ref())
        .filter(|p| p.manager == PackageManager::Dpkg)
        .map(|p| (p.name.as_str(), p.source.as_str()))
        .collect();
    let mut out = Changelogs::default();
    // Sibling doc folders are often symlinks to one shared folder: parse each file once.
    let mut parsed: BTreeMap<PathBuf, Vec<ChangelogEntry>> = BTreeMap::new();
    let mut covered_sources: BTreeSet<&str> = BTreeSet::new();
    for (name, source) in &owners {
        if read_into(root, name, &mut parsed, &mut out) {
            covered_sources.insert(source);
        }
    }
    // Every binary package of a source ships the same changelog, so siblings are read only
    // for a source whose owning packages have none (docs excluded, or split differently):
    // reading all of QEMU's a dozen times would cost milliseconds on every scan.
    let mut wanted: BTreeSet<&str> = owners
        .iter()
        .map(|(_, source)| *source)
        .filter(|source| !covered_sources.contains(source))
        .collect();
    for package in installed
        .iter()
        .filter(|p| p.manager == PackageManager::Dpkg)
    {
        let source = package.source_name.as_str();
        if wanted.contains(source) && read_into(root, &package.name, &mut parsed, &mut out) {
            wanted.remove(source);
        }
    }
    out
}

/// Reads `package`'s changelog into `out`; true when one was found and parsed.
fn read_into(
    root: &HostRoot,
    package: &str,
    parsed: &mut BTreeMap<PathBuf, Vec<ChangelogEntry>>,
    out: &mut Changelogs,
) -> bool {
    if out.entries.contains_key(package) {
        return true;
    }
    let host_path = changelog_path(package);
    let real = match root.canonical(&host_path) {
        Ok(real) => real,
        Err(e) if e.is_not_found() => return false,
        Err(e) => {
            out.warnings.push(e.to_string());
            return false;
        }
    };
    if let Some(entries) = parsed.get(&real) {
        out.entries.insert(package.to_owned(), entries.clone());
        return true;
    }
    match read_changelog(root, &host_path) {
        Ok(entries) => {
            parsed.insert(real, entries.clone());
            out.entries.insert(package.to_owned(), entries);
            true
        }
        Err(ChangelogError::Root(e)) if e.is_not_found() => false,
        Err(e) => {
            out.warnings.push(e.to_string());
            false
        }
    }
}

/// Reads one gzip-compressed changelog through `root` with both size caps, and returns its
/// CVE-bearing entries.
pub fn read_changelog(
    root: &HostRoot,
    host_path: &Path,
) -> Result<Vec<ChangelogEntry>, ChangelogError> {
    let compressed = root.read_bytes(host_path, COMPRESSED_LIMIT)?;
    let text = decompress(host_path, &compressed)?;
    Ok(parse(&text))
}

/// Decompresses at most [`DECOMPRESSED_LIMIT`] bytes; a longer stream is refused.
pub fn decompress(path: &Path, compressed: &[u8]) -> Result<String, ChangelogError> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(compressed)
        .take(DECOMPRESSED_LIMIT + 1)
        .read_to_end(&mut out)
        .map_err(|cause| ChangelogError::Gzip {
            path: path.to_path_buf(),
            cause,
        })?;
    if out.len() as u64 > DECOMPRESSED_LIMIT {
        return Err(ChangelogError::Bomb {
            path: path.to_path_buf(),
            limit: DECOMPRESSED_LIMIT,
        });
    }
    // Entries from before Debian's UTF-8 switch are Latin-1; only ASCII ids matter here.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

pub use hvguard_core::changelog::{cve_ids, parse};

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use hvguard_core::PackageRef;
    use std::io::Write;

    const REAL: &str =
        "../../tests/fixtures/hosts/debian12-nested-pvm/usr/share/doc/qemu-system-x86/changelog.Debian.gz";

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn the_real_qemu_changelog() {
        let bytes = std::fs::read(REAL).unwrap();
        let text = decompress(Path::new(REAL), &bytes).unwrap();
        let entries = parse(&text);
        let top = &entries[0];
        assert_eq!(top.version, "1:7.2+dfsg-7+deb12u18");
        assert_eq!(top.line, 1);
        assert!(top.cves.contains(&"CVE-2025-11234".to_string()));
        assert!(entries.len() > 20, "{}", entries.len());
        // CVE-2024-8354's fix is listed by subject only, in the 7.2.21 merge.
        assert!(top
            .items
            .iter()
            .any(|i| i.text == "hw/usb/hcd-uhci: don't assert for SETUP to non-0 endpoint"));
        // 1:5.0-7 reopened CVE-2020-13253; 1:5.0-8 fixed it again.
        let reopened = entries.iter().find(|e| e.version == "1:5.0-7").unwrap();
        assert_eq!(reopened.reopens, vec!["CVE-2020-13253"]);
        assert!(!reopened.cves.contains(&"CVE-2020-13253".to_string()));
        // The header line numbers point at real headers.
        let lines: Vec<&str> = text.lines().collect();
        for e in &entries {
            let header = lines[e.line as usize - 1];
            assert!(header.starts_with("qemu ("), "{header}");
            assert!(header.contains(&e.version), "{header}");
        }
    }

    #[test]
    fn garbage_truncated_and_bombs_are_errors_naming_the_path() {
        let p = Path::new("/usr/share/doc/x/changelog.Debian.gz");
        let err = decompress(p, b"not gzip at all").unwrap_err();
        assert!(matches!(err, ChangelogError::Gzip { .. }), "{err}");
        assert!(err.to_string().starts_with("/usr/share/doc/x/"), "{err}");
        let whole = gz(b"qemu (1.0-1) unstable; urgency=low\n  * CVE-2020-1234\n");
        let err = decompress(p, &whole[..whole.len() - 10]).unwrap_err();
        assert!(matches!(err, ChangelogError::Gzip { .. }), "{err}");
        let bomb = gz(&vec![b'a'; (DECOMPRESSED_LIMIT + 1) as usize]);
        assert!(bomb.len() < 1 << 20);
        let err = decompress(p, &bomb).unwrap_err();
        assert!(matches!(err, ChangelogError::Bomb { .. }), "{err}");
    }

    fn package(name: &str) -> Package {
        Package {
            manager: PackageManager::Dpkg,
            name: name.into(),
            version: "1:7.2+dfsg-7+deb12u18+b3".into(),
            source_name: "qemu".into(),
            source_version: "1:7.2+dfsg-7+deb12u18".into(),
            arch: "amd64".into(),
        }
    }

    fn qemu_owned_by(p: &Package) -> Hypervisor {
        Hypervisor {
            kind: hvguard_core::HypervisorKind::Qemu,
            path: "/usr/bin/qemu-system-x86_64".into(),
            version: Some("7.2.22".into()),
            version_source: None,
            version_evidence: None,
            package: Some(PackageRef::from(p)),
            kata_release: None,
            stat: None,
            used_by: Vec::new(),
            parent_dirs: Vec::new(),
            version_note: None,
            devices: None,
        }
    }

    #[test]
    fn collects_owner_and_siblings_through_a_symlinked_doc_dir() {
        let dir = tempfile::tempdir().unwrap();
        let doc = dir.path().join("usr/share/doc");
        std::fs::create_dir_all(doc.join("qemu-system-common")).unwrap();
        std::fs::copy(REAL, doc.join("qemu-system-common/changelog.Debian.gz")).unwrap();
        // As on real Debian hosts: an absolute symlink, re-rooted by HostRoot.
        std::os::unix::fs::symlink(
            "/usr/share/doc/qemu-system-common",
            doc.join("qemu-system-x86"),
        )
        .unwrap();
        std::fs::create_dir_all(doc.join("qemu-utils")).unwrap();
        std::fs::write(doc.join("qemu-utils/changelog.Debian.gz"), b"junk").unwrap();
        let root = HostRoot::new(dir.path()).unwrap();
        let x86 = package("qemu-system-x86");
        let packages = Probe::found(vec![
            x86.clone(),
            package("qemu-system-common"),
            package("qemu-utils"),
            package("qemu-block-extra"),
            Package {
                source_name: "libvirt".into(),
                ..package("libvirt-daemon")
            },
        ]);
        let found = collect(&root, &packages, &[qemu_owned_by(&x86)]);
        // The owner's changelog (through the re-rooted symlink) covers source qemu: the
        // siblings, broken qemu-utils included, are not read.
        let names: Vec<&str> = found.entries.keys().map(String::as_str).collect();
        assert_eq!(names, vec!["qemu-system-x86"]);
        assert!(!found.entries["qemu-system-x86"].is_empty());
        assert!(found.warnings.is_empty(), "{:?}", found.warnings);

        // Without the owner's changelog (docs excluded), the siblings stand in for it, in
        // package order, each failure a warning naming its file.
        std::fs::remove_file(doc.join("qemu-system-x86")).unwrap();
        let found = collect(&root, &packages, &[qemu_owned_by(&x86)]);
        let names: Vec<&str> = found.entries.keys().map(String::as_str).collect();
        assert_eq!(names, vec!["qemu-system-common"]);
        assert!(found.warnings.is_empty(), "{:?}", found.warnings);
        std::fs::remove_dir_all(doc.join("qemu-system-common")).unwrap();
        let found = collect(&root, &packages, &[qemu_owned_by(&x86)]);
        assert!(found.entries.is_empty());
        assert_eq!(found.warnings.len(), 1, "{:?}", found.warnings);
        assert!(found.warnings[0].contains("/usr/share/doc/qemu-utils/changelog.Debian.gz"));
    }

    #[test]
    fn no_owned_hypervisor_reads_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = HostRoot::new(dir.path()).unwrap();
        let packages = Probe::found(vec![package("qemu-system-x86")]);
        assert_eq!(collect(&root, &packages, &[]), Changelogs::default());
    }
}
