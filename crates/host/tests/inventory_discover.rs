//! Hypervisor discovery and version extraction on the fixture host roots.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hvguard_core::{HostRoot, Hypervisor, HypervisorKind, Probe, VersionSource};
use hvguard_host::hypervisors::{self, kind, scan};
use hvguard_host::packages;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/hosts")
        .join(name)
}

fn inventory(name: &str, extra: &[PathBuf]) -> (HostRoot, hypervisors::Inventory) {
    let root = HostRoot::new(fixture(name)).unwrap();
    let pk = packages::read_installed(&root);
    let inv = hypervisors::discover(&root, &pk, extra);
    (root, inv)
}

fn by_path<'a>(inv: &'a hypervisors::Inventory, path: &str) -> &'a Hypervisor {
    inv.hypervisors
        .iter()
        .find(|h| h.path == Path::new(path))
        .unwrap_or_else(|| panic!("{path} not discovered: {:#?}", inv.hypervisors))
}

fn paths(inv: &hypervisors::Inventory) -> Vec<&str> {
    inv.hypervisors
        .iter()
        .map(|h| h.path.to_str().unwrap())
        .collect()
}

#[test]
fn intel_problems_debian_qemu_and_virtiofsd() {
    let (root, inv) = inventory("intel-problems", &[]);
    assert_eq!(
        paths(&inv),
        ["/usr/bin/qemu-system-x86_64", "/usr/libexec/virtiofsd"]
    );
    let q = by_path(&inv, "/usr/bin/qemu-system-x86_64");
    assert_eq!(q.kind, HypervisorKind::Qemu);
    assert_eq!(q.version.as_deref(), Some("7.2.22"));
    assert_eq!(q.version_source, Some(VersionSource::BinaryString));
    assert_eq!(
        q.version_evidence.as_deref(),
        Some("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)")
    );
    let pkg = q.package.as_ref().unwrap();
    assert_eq!(
        (pkg.name.as_str(), pkg.source.as_str()),
        ("qemu-system-x86", "qemu")
    );
    assert_eq!(q.kata_release, None);
    let meta = std::fs::metadata(root.base().join("usr/bin/qemu-system-x86_64")).unwrap();
    let stat = q.stat.as_ref().unwrap();
    assert_eq!(
        (stat.mode, stat.uid, stat.gid),
        (meta.mode() & 0o7777, meta.uid(), meta.gid())
    );
    assert_eq!(stat.path, Path::new("/usr/bin/qemu-system-x86_64"));
    // Debian's Rust virtiofsd holds no contiguous banner: the package version stands in.
    let v = by_path(&inv, "/usr/libexec/virtiofsd");
    assert_eq!(v.kind, HypervisorKind::Virtiofsd);
    assert_eq!(v.version.as_deref(), Some("1.5.0"));
    assert_eq!(v.version_source, Some(VersionSource::Package));
    assert_eq!(
        v.version_evidence.as_deref(),
        Some("dpkg package virtiofsd 1.5.0-1")
    );
    assert!(inv.kata_install.is_absent());
    assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);
}

#[test]
fn amd_ubuntu_qemu() {
    let (_root, inv) = inventory("amd-sev-snp-hardened", &[]);
    assert_eq!(paths(&inv), ["/usr/bin/qemu-system-x86_64"]);
    let q = &inv.hypervisors[0];
    assert_eq!(q.version.as_deref(), Some("8.2.2"));
    let pkg = q.package.as_ref().unwrap();
    assert_eq!(pkg.version, "1:8.2.2+ds-0ubuntu1.4");
    assert_eq!(
        (pkg.source.as_str(), pkg.source_version.as_str()),
        ("qemu", "1:8.2.2+ds-0ubuntu1.4")
    );
}

#[test]
fn cloud_vm_rhel_qemu_kvm_without_package_data() {
    let (root, inv) = inventory("cloud-vm-no-kvm", &[]);
    let pk = packages::read_installed(&root);
    assert_eq!(
        pk,
        Probe::unsupported("rpm database under --root is not read yet")
    );
    assert_eq!(paths(&inv), ["/usr/libexec/qemu-kvm"]);
    let q = &inv.hypervisors[0];
    assert_eq!(q.kind, HypervisorKind::Qemu);
    assert_eq!(q.version.as_deref(), Some("8.2.0"));
    assert_eq!(
        q.version_evidence.as_deref(),
        Some("QEMU emulator version 8.2.0 (qemu-kvm-8.2.0-11.el9_4)")
    );
    assert_eq!(q.package, None);
}

#[test]
fn kata_static_install() {
    let (_root, inv) = inventory("kata-static", &[]);
    let install = inv.kata_install.value().unwrap();
    assert_eq!(install.version, "3.20.0");
    // The /usr/local/bin symlink comes first in search order and stands for its target.
    assert_eq!(
        paths(&inv),
        [
            "/usr/local/bin/cloud-hypervisor",
            "/opt/kata/bin/firecracker",
            "/opt/kata/bin/jailer",
            "/opt/kata/bin/qemu-system-x86_64",
            "/opt/kata/libexec/virtiofsd",
        ]
    );
    for h in &inv.hypervisors {
        assert_eq!(
            h.kata_release.as_deref(),
            Some("3.20.0"),
            "{}",
            h.path.display()
        );
        assert_eq!(h.package, None);
    }
    let clh = by_path(&inv, "/usr/local/bin/cloud-hypervisor");
    assert_eq!(clh.kind, HypervisorKind::CloudHypervisor);
    assert_eq!(
        (clh.version.as_deref(), clh.version_source),
        (Some("47.0"), Some(VersionSource::BinaryString))
    );
    // Firecracker's release build keeps prefix and version apart: the Kata table answers.
    let fc = by_path(&inv, "/opt/kata/bin/firecracker");
    assert_eq!(
        (fc.version.as_deref(), fc.version_source),
        (Some("1.12.1"), Some(VersionSource::KataVersions))
    );
    assert_eq!(
        fc.version_evidence.as_deref(),
        Some("Kata Containers 3.20.0 (/opt/kata/VERSION) bundles firecracker 1.12.1")
    );
    let jailer = by_path(&inv, "/opt/kata/bin/jailer");
    assert_eq!(
        (jailer.kind, jailer.version.as_deref()),
        (HypervisorKind::Jailer, Some("1.12.1"))
    );
    assert_eq!(jailer.version_evidence.as_deref(), Some("Jailer v1.12.1"));
    let q = by_path(&inv, "/opt/kata/bin/qemu-system-x86_64");
    assert_eq!(
        q.version_evidence.as_deref(),
        Some("QEMU emulator version 10.0.3 (kata-static)")
    );
    // Kata's virtiofsd pin is not in the release table and the binary has no banner.
    let v = by_path(&inv, "/opt/kata/libexec/virtiofsd");
    assert_eq!((v.version.as_deref(), v.version_source), (None, None));
}

#[test]
fn extra_paths_from_configs() {
    let extra = [
        // Already found: listed once, under the first path.
        PathBuf::from("/opt/kata/bin/cloud-hypervisor"),
        // An unusual name: the banner tells the kind.
        PathBuf::from("/opt/kata/bin/../bin/jailer"),
        PathBuf::from("/opt/kata/bin/kata-runtime"),
        PathBuf::from("/usr/bin/missing-qemu"),
    ];
    let (_root, inv) = inventory("kata-static", &extra);
    assert_eq!(inv.hypervisors.len(), 5, "{:#?}", inv.hypervisors);
    assert_eq!(inv.warnings.len(), 2, "{:?}", inv.warnings);
    assert!(
        inv.warnings[0].contains("/opt/kata/bin/kata-runtime: not a known hypervisor"),
        "{:?}",
        inv.warnings
    );
    assert!(
        inv.warnings[1].starts_with("/usr/bin/missing-qemu"),
        "{:?}",
        inv.warnings
    );
}

#[test]
fn configured_binary_with_unknown_name_gets_kind_from_banner() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("srv")).unwrap();
    let src = fixture("amd-sev-snp-hardened").join("usr/bin/qemu-system-x86_64");
    std::fs::copy(src, dir.path().join("srv/vmm")).unwrap();
    let root = HostRoot::new(dir.path()).unwrap();
    let inv = hypervisors::discover(
        &root,
        &Probe::absent("/var/lib/dpkg/status"),
        &[PathBuf::from("/srv/vmm")],
    );
    assert_eq!(inv.hypervisors.len(), 1);
    assert_eq!(inv.hypervisors[0].kind, HypervisorKind::Qemu);
    assert_eq!(inv.hypervisors[0].version.as_deref(), Some("8.2.2"));
}

#[test]
fn debian12_capture_has_no_binaries() {
    let (_root, inv) = inventory("debian12-nested-pvm", &[]);
    assert!(inv.hypervisors.is_empty());
    assert!(inv.kata_install.is_absent());
}

#[test]
fn fixture_banners_across_every_chunk_size() {
    let data = std::fs::read(fixture("intel-problems").join("usr/bin/qemu-system-x86_64")).unwrap();
    let banners = kind::banners_for(HypervisorKind::Qemu);
    let expected = scan::find_in_stream(&data[..], &banners, scan::CHUNK)
        .unwrap()
        .unwrap();
    for chunk in [1, 2, 3, 7, 64, 100, 255, 256, 1000, 4096] {
        let m = scan::find_in_stream(&data[..], &banners, chunk)
            .unwrap()
            .unwrap();
        assert_eq!(m, expected, "chunk {chunk}");
    }
    let at = expected.offset as usize;
    assert_eq!(&data[at..at + 22], b"QEMU emulator version ");
    // Chunk boundaries placed at each byte of the banner.
    for cut in at.saturating_sub(2)..at + expected.evidence.len() + 2 {
        let (a, b) = data.split_at(cut);
        let m = scan::find_in_stream(std::io::Read::chain(a, b), &banners, cut.max(1))
            .unwrap()
            .unwrap();
        assert_eq!(m.offset, expected.offset);
    }
}

#[test]
fn unreadable_binary_is_a_warning_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("usr/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir(bin.join("qemu-system-x86_64")).unwrap();
    std::os::unix::fs::symlink("/usr/bin/firecracker", bin.join("firecracker")).unwrap();
    let root = HostRoot::new(dir.path()).unwrap();
    let inv = hypervisors::discover(&root, &Probe::absent("/var/lib/dpkg/status"), &[]);
    assert!(inv.hypervisors.is_empty());
    assert_eq!(inv.warnings.len(), 2, "{:?}", inv.warnings);
    assert!(
        inv.warnings
            .iter()
            .any(|w| w.contains("/usr/bin/qemu-system-x86_64: not a regular file")),
        "{:?}",
        inv.warnings
    );
}

#[test]
fn a_wrapper_script_is_not_a_hypervisor() {
    // Debian 12 ships /usr/bin/qemu-system-i386 as a shell wrapper around
    // /usr/libexec/qemu-system-i386: only the real binary belongs in the inventory.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("usr/bin")).unwrap();
    std::fs::create_dir_all(dir.path().join("usr/libexec")).unwrap();
    std::fs::write(
        dir.path().join("usr/bin/qemu-system-i386"),
        "#! /bin/sh\nexec /usr/libexec/qemu-system-i386 \"$@\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("usr/libexec/qemu-system-i386"),
        b"\x7fELF\0\0junk\0QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\0",
    )
    .unwrap();
    let root = HostRoot::new(dir.path()).unwrap();
    let inv = hypervisors::discover(&root, &Probe::found(Vec::new()), &[]);
    assert_eq!(paths(&inv), vec!["/usr/libexec/qemu-system-i386"]);
    assert_eq!(
        by_path(&inv, "/usr/libexec/qemu-system-i386")
            .version
            .as_deref(),
        Some("7.2.22")
    );
}
