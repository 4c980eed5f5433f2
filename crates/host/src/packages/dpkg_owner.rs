//! Which dpkg package owns a file: `var/lib/dpkg/info/<pkg>[:<arch>].list`.
//!
//! Each `.list` file holds one installed path per line. A Debian host has close to a thousand
//! of them, so the packages that can plausibly ship a hypervisor binary are looked at first;
//! the full scan runs only when none of them lists the path.

use hvguard_core::{HostRoot, Package, PackageManager, PackageRef};
use std::path::{Path, PathBuf};

/// Where dpkg keeps its per-package file lists, as the host sees it.
pub const INFO_DIR: &str = "/var/lib/dpkg/info";

/// Ceiling for one `.list` file; the largest on a Debian desktop is a few MB.
const LIST_READ_LIMIT: u64 = 16 << 20;

/// Name prefixes of packages that ship hypervisors, VMMs or their helpers.
const LIKELY_OWNERS: &[&str] = &[
    "qemu",
    "firecracker",
    "cloud-hypervisor",
    "virtiofsd",
    "kata",
    "stratovirt",
];

/// The package (among `packages`) whose file list contains `binary`, if any.
pub fn owner_of(root: &HostRoot, packages: &[Package], binary: &Path) -> Option<PackageRef> {
    let wanted = path_aliases(binary);
    if wanted.is_empty() {
        return None;
    }
    // The likely owners' lists are opened by name: listing a directory of several thousand
    // maintainer files costs more than the handful of reads.
    let mut tried: Vec<String> = Vec::new();
    for package in packages.iter().filter(|p| {
        p.manager == PackageManager::Dpkg && LIKELY_OWNERS.iter().any(|l| p.name.starts_with(l))
    }) {
        // Multi-Arch: same packages keep `<name>:<arch>.list`, the others `<name>.list`.
        for list in [
            format!("{}:{}.list", package.name, package.arch),
            format!("{}.list", package.name),
        ] {
            let found = list_contains(root, &list, &wanted);
            tried.push(list);
            match found {
                Some(true) => return Some(PackageRef::from(package)),
                Some(false) => break,
                None => {}
            }
        }
    }
    let lists = root.read_dir_names(INFO_DIR).ok()?;
    lists
        .iter()
        .filter(|n| n.ends_with(".list") && !tried.contains(n))
        .find_map(|list| {
            let package = package_of_list(packages, list)?;
            list_contains(root, list, &wanted)?.then(|| PackageRef::from(package))
        })
}

/// The installed package a `.list` file belongs to; a list left behind by a removed package
/// says nothing about today's files.
fn package_of_list<'a>(packages: &'a [Package], list_name: &str) -> Option<&'a Package> {
    let stem = list_name.strip_suffix(".list")?;
    let (name, arch) = match stem.split_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => (stem, None),
    };
    packages.iter().find(|p| {
        p.manager == PackageManager::Dpkg && p.name == name && arch.is_none_or(|a| p.arch == a)
    })
}

/// Whether the list names one of `wanted`; `None` when the list cannot be read.
fn list_contains(root: &HostRoot, list_name: &str, wanted: &[Vec<u8>]) -> Option<bool> {
    let bytes = root
        .read_bytes(PathBuf::from(INFO_DIR).join(list_name), LIST_READ_LIMIT)
        .ok()?;
    Some(wanted.iter().any(|w| contains_line(&bytes, w)))
}

/// True when `haystack` has a line exactly equal to `line` (a trailing `\r` tolerated).
fn contains_line(haystack: &[u8], line: &[u8]) -> bool {
    memchr::memmem::find_iter(haystack, line).any(|at| {
        let starts_line = at == 0 || haystack[at - 1] == b'\n';
        let end = at + line.len();
        let ends_line = matches!(haystack.get(end), None | Some(b'\n'))
            || (haystack.get(end) == Some(&b'\r')
                && matches!(haystack.get(end + 1), None | Some(b'\n')));
        starts_line && ends_line
    })
}

/// `binary` and the spellings it has on a merged-/usr system (`/bin` is `/usr/bin`, and so on):
/// dpkg records the path the package shipped, which may be either.
fn path_aliases(binary: &Path) -> Vec<Vec<u8>> {
    let Some(text) = binary.to_str() else {
        return Vec::new();
    };
    let text = if text.starts_with('/') {
        text.to_string()
    } else {
        format!("/{text}")
    };
    let mut out = vec![text.clone()];
    for dir in ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] {
        let merged = format!("/usr/{dir}/");
        let split = format!("/{dir}/");
        if let Some(rest) = text.strip_prefix(&merged) {
            out.push(format!("{split}{rest}"));
        } else if let Some(rest) = text.strip_prefix(&split) {
            out.push(format!("{merged}{rest}"));
        }
    }
    out.into_iter().map(String::into_bytes).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn whole_lines_only() {
        let list = b"/.\n/usr/bin/qemu-system-x86_64-microvm\n/usr/bin/qemu-system-x86_64\r\n";
        assert!(contains_line(list, b"/usr/bin/qemu-system-x86_64"));
        assert!(!contains_line(list, b"/usr/bin/qemu-system"));
        assert!(!contains_line(list, b"/bin/qemu-system-x86_64"));
        assert!(contains_line(b"/a", b"/a"));
    }

    #[test]
    fn usrmerge_aliases() {
        let a = path_aliases(Path::new("/usr/bin/kvm"));
        assert_eq!(a, vec![b"/usr/bin/kvm".to_vec(), b"/bin/kvm".to_vec()]);
        let b = path_aliases(Path::new("/sbin/x"));
        assert_eq!(b[1], b"/usr/sbin/x".to_vec());
        assert_eq!(path_aliases(Path::new("/usr/libexec/v")).len(), 1);
    }
}
