//! Package-aware integrity: the files of the packages that make up the hypervisor layer (QEMU,
//! its modules and firmware, virtiofsd) compared with the digests their package manager
//! recorded, and a SHA-256 of every hypervisor binary for drift and for static binaries, which
//! no package vouches for. Only files are read; nothing is run.
//!
//! Package updates replace files *and* their recorded digests together, so a routine update is
//! silent here; only bytes that no package put there stand out.

pub mod cache_file;
pub mod digest;
pub mod md5sums;

use crate::packages::dpkg_owner::INFO_DIR;
use digest::DigestCache;
use hvguard_core::{
    BinaryDigest, DigestAlgorithm, HostRoot, Hypervisor, IntegrityFacts, ModifiedFile, Package,
    PackageIntegrity, PackageManager, Probe, UnreadableFile,
};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A digest list larger than this is not dpkg's (the largest on a Debian desktop is ~2 MB).
const MD5SUMS_READ_LIMIT: u64 = 16 << 20;

/// Installed packages checked besides the owners of discovered hypervisor binaries: the parts
/// of the hypervisor layer a VMM loads (modules, firmware, ROMs) or starts (virtiofsd).
const LAYER_PACKAGES: &[&str] = &[
    "qemu-block-extra",
    "virtiofsd",
    "seabios",
    "ipxe-qemu",
    "ovmf",
    "ovmf-ia32",
    "qemu-efi-aarch64",
    "qemu-efi-arm",
    "sgabios",
    "qboot",
    "opensbi",
    "u-boot-qemu",
    "firecracker",
    "cloud-hypervisor",
];

/// Package name prefixes that are part of the layer (`qemu-system-x86`, `qemu-system-common`,
/// `qemu-system-data`, `qemu-system-gui`, ...).
const LAYER_PREFIXES: &[&str] = &["qemu-system-"];

/// Files of those packages that no VMM reads: documentation, manuals, translations, desktop
/// integration. Their changes are noise (AIDE's complaint), so they are not compared.
const SKIPPED_DIRS: &[&str] = &[
    "/usr/share/doc/",
    "/usr/share/man/",
    "/usr/share/info/",
    "/usr/share/lintian/",
    "/usr/share/locale/",
    "/usr/share/bash-completion/",
    "/usr/share/icons/",
    "/usr/share/applications/",
    "/usr/share/menu/",
];

/// Checks the hypervisor layer's packages and hashes every hypervisor binary.
pub fn collect(
    root: &HostRoot,
    packages: &Probe<Vec<Package>>,
    hypervisors: &[Hypervisor],
    cache: &mut DigestCache,
) -> IntegrityFacts {
    IntegrityFacts {
        packages: check_packages(root, packages, hypervisors, cache),
        binaries: hash_binaries(root, hypervisors, cache),
        baseline: None,
    }
}

/// The packages of the hypervisor layer, each compared with its recorded digests.
pub fn check_packages(
    root: &HostRoot,
    packages: &Probe<Vec<Package>>,
    hypervisors: &[Hypervisor],
    cache: &mut DigestCache,
) -> Probe<Vec<PackageIntegrity>> {
    let list = match packages {
        Probe::Found { value } => value,
        other => {
            return Probe::unsupported(format!(
                "the package database could not be read: {}",
                other.unknown_reason().unwrap_or_default()
            ))
        }
    };
    let chosen = layer_packages(list, hypervisors);
    if chosen.iter().any(|p| p.manager == PackageManager::Rpm) {
        let place = if root.is_live() {
            "on this host"
        } else {
            "under --root"
        };
        return Probe::unsupported(format!(
            "RPM file digests are not checked {place}: hvguard does not read the rpm database \
             itself and runs no rpm query for this (use `rpm -V` meanwhile)"
        ));
    }
    Probe::found(
        chosen
            .into_iter()
            .map(|p| check_dpkg_package(root, p, cache))
            .collect(),
    )
}

/// Owners of the discovered binaries plus the installed layer packages, by name.
fn layer_packages<'a>(list: &'a [Package], hypervisors: &[Hypervisor]) -> Vec<&'a Package> {
    let owners: BTreeSet<&str> = hypervisors
        .iter()
        .filter_map(|h| h.package.as_ref().map(|p| p.name.as_str()))
        .collect();
    let mut chosen: Vec<&Package> = list
        .iter()
        .filter(|p| {
            owners.contains(p.name.as_str())
                || LAYER_PACKAGES.contains(&p.name.as_str())
                || LAYER_PREFIXES.iter().any(|pre| p.name.starts_with(pre))
        })
        .collect();
    chosen.sort_by(|a, b| (&a.name, &a.arch).cmp(&(&b.name, &b.arch)));
    chosen.dedup_by(|a, b| a.name == b.name && a.arch == b.arch);
    chosen
}

fn check_dpkg_package(
    root: &HostRoot,
    package: &Package,
    cache: &mut DigestCache,
) -> PackageIntegrity {
    let mut result = PackageIntegrity {
        manager: PackageManager::Dpkg,
        package: package.name.clone(),
        version: package.version.clone(),
        digests_path: PathBuf::new(),
        algorithm: DigestAlgorithm::Md5,
        checked: 0,
        modified: Vec::new(),
        missing: Vec::new(),
        unreadable: Vec::new(),
        unknown: None,
    };
    // Multi-Arch: same packages keep `<name>:<arch>.md5sums`, the others `<name>.md5sums`.
    let candidates = [
        Path::new(INFO_DIR).join(format!("{}:{}.md5sums", package.name, package.arch)),
        Path::new(INFO_DIR).join(format!("{}.md5sums", package.name)),
    ];
    let mut text = None;
    for path in &candidates {
        match root.read_text(path, MD5SUMS_READ_LIMIT) {
            Ok(t) => {
                result.digests_path = path.clone();
                text = Some(t);
                break;
            }
            Err(e) if e.is_not_found() => continue,
            Err(e) => {
                result.digests_path = path.clone();
                result.unknown = Some(e.to_string());
                return result;
            }
        }
    }
    let Some(text) = text else {
        result.digests_path = candidates[1].clone();
        result.unknown = Some(format!(
            "{}: no digest list (dpkg records none for this package)",
            candidates[1].display()
        ));
        return result;
    };
    let entries = match md5sums::parse_md5sums(&text) {
        Ok(e) => e,
        Err(e) => {
            result.unknown = Some(format!("{}: {e}", result.digests_path.display()));
            return result;
        }
    };
    for entry in entries {
        if SKIPPED_DIRS.iter().any(|d| entry.path.starts_with(d)) {
            continue;
        }
        match cache.digests(root, &entry.path, &[DigestAlgorithm::Md5]) {
            Ok(mut d) => {
                result.checked += 1;
                let actual = d.pop().unwrap_or_default();
                if actual != entry.digest {
                    result.modified.push(ModifiedFile {
                        path: entry.path,
                        expected: entry.digest,
                        actual,
                        line: entry.line,
                    });
                }
            }
            Err(e) if e.is_not_found() => result.missing.push(entry.path),
            Err(e) => result.unreadable.push(UnreadableFile {
                path: entry.path,
                reason: e.to_string(),
            }),
        }
    }
    result
}

/// SHA-256 of every hypervisor binary, sorted by path; binaries that cannot be hashed are left
/// out (the package check or the inventory's warnings say why).
pub fn hash_binaries(
    root: &HostRoot,
    hypervisors: &[Hypervisor],
    cache: &mut DigestCache,
) -> Vec<BinaryDigest> {
    let mut out: Vec<BinaryDigest> = hypervisors
        .iter()
        .filter_map(|h| {
            let digest = cache
                .digests(root, &h.path, &[DigestAlgorithm::Sha256])
                .ok()?
                .pop()?;
            Some(BinaryDigest {
                path: h.path.clone(),
                sha256: digest,
                packaged: h.package.is_some(),
                kata_release: h.kata_release.clone(),
            })
        })
        .collect();
    out.sort();
    out.dedup_by(|a, b| a.path == b.path);
    out
}
