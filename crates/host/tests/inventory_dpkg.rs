//! dpkg status parsing and file ownership, on the real Debian 12 capture and the fixtures.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hvguard_core::{HostRoot, PackageManager, Probe};
use hvguard_host::packages::{self, dpkg};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/hosts")
        .join(name)
}

fn root(name: &str) -> HostRoot {
    HostRoot::new(fixture(name)).unwrap()
}

#[test]
fn real_debian12_status_capture() {
    let packages = dpkg::read_status(&root("debian12-nested-pvm"));
    let packages = packages.value().expect("status parses");
    let names: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "base-files",
            "ipxe-qemu",
            "libc6",
            "libvirt-clients",
            "libvirt0",
            "qemu-system-common",
            "qemu-system-data",
            "qemu-system-x86",
            "seabios"
        ]
    );
    let x86 = packages
        .iter()
        .find(|p| p.name == "qemu-system-x86")
        .unwrap();
    assert_eq!(x86.manager, PackageManager::Dpkg);
    assert_eq!(x86.version, "1:7.2+dfsg-7+deb12u18+b3");
    assert_eq!(x86.source_name, "qemu");
    assert_eq!(x86.source_version, "1:7.2+dfsg-7+deb12u18");
    assert_eq!(x86.arch, "amd64");
    // `Source: qemu` without a version: the binary's own version is the source's.
    let data = packages
        .iter()
        .find(|p| p.name == "qemu-system-data")
        .unwrap();
    assert_eq!(
        (data.source_name.as_str(), data.source_version.as_str()),
        ("qemu", "1:7.2+dfsg-7+deb12u18")
    );
    assert_eq!(data.arch, "all");
    let seabios = packages.iter().find(|p| p.name == "seabios").unwrap();
    assert_eq!(
        (
            seabios.source_name.as_str(),
            seabios.source_version.as_str()
        ),
        ("seabios", "1.16.2-1")
    );
}

const STANZA: &str = "Package: qemu-system-x86\nStatus: install ok installed\nArchitecture: amd64\nSource: qemu (1:7.2+dfsg-7+deb12u18)\nVersion: 1:7.2+dfsg-7+deb12u18+b3\nDescription: QEMU\n x86 emulation.\n .\n More: text\n";

#[test]
fn empty_file_is_an_empty_list() {
    assert_eq!(dpkg::parse_status("").unwrap(), vec![]);
    assert_eq!(dpkg::parse_status("\n\n").unwrap(), vec![]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("var/lib/dpkg")).unwrap();
    std::fs::write(dir.path().join("var/lib/dpkg/status"), "").unwrap();
    let root = HostRoot::new(dir.path()).unwrap();
    assert_eq!(packages::read_installed(&root), Probe::found(vec![]));
}

#[test]
fn continuation_lines_that_look_like_fields_are_skipped() {
    // " More: text" is part of the Description, not a field.
    let p = dpkg::parse_status(STANZA).unwrap();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].source_version, "1:7.2+dfsg-7+deb12u18");
}

#[test]
fn crlf_line_endings() {
    let crlf = STANZA.replace('\n', "\r\n")
        + "\r\nPackage: b\r\nStatus: install ok installed\r\nVersion: 2\r\n";
    let p = dpkg::parse_status(&crlf).unwrap();
    assert_eq!(p.len(), 2);
    assert_eq!(p[1].arch, "amd64");
    assert_eq!(p[1].version, "1:7.2+dfsg-7+deb12u18+b3");
    assert_eq!(p[0].version, "2");
}

#[test]
fn missing_source_version_and_missing_source() {
    let text = "Package: a\nStatus: install ok installed\nSource: src-a\nVersion: 1.0-1\nArchitecture: all\n\nPackage: b\nStatus: hold ok installed\nVersion: 2.0\n";
    let p = dpkg::parse_status(text).unwrap();
    assert_eq!(
        (p[0].source_name.as_str(), p[0].source_version.as_str()),
        ("src-a", "1.0-1")
    );
    assert_eq!(
        (p[1].source_name.as_str(), p[1].source_version.as_str()),
        ("b", "2.0")
    );
    assert_eq!(p[1].arch, "");
}

#[test]
fn only_packages_with_files_on_disk() {
    let text = [
        ("gone", "deinstall ok config-files"),
        ("never", "purge ok not-installed"),
        ("broken", "install reinstreq half-installed"),
        ("pending", "install ok triggers-pending"),
        ("unpacked", "install ok unpacked"),
        ("ok", "install ok installed"),
    ]
    .iter()
    .map(|(n, s)| format!("Package: {n}\nStatus: {s}\nVersion: 1\n"))
    .collect::<Vec<_>>()
    .join("\n");
    let names: Vec<String> = dpkg::parse_status(&text)
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["ok", "pending", "unpacked"]);
}

#[test]
fn garbage_is_unsupported_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("var/lib/dpkg")).unwrap();
    std::fs::write(
        dir.path().join("var/lib/dpkg/status"),
        format!("{STANZA}\nthis is not a status file\n"),
    )
    .unwrap();
    let root = HostRoot::new(dir.path()).unwrap();
    let reason = packages::read_installed(&root).unknown_reason().unwrap();
    assert!(
        reason.starts_with("/var/lib/dpkg/status: line 11:"),
        "{reason}"
    );
    // Binary junk is not text at all.
    std::fs::write(
        dir.path().join("var/lib/dpkg/status"),
        [0xff, 0xfe, 0x00, 0x41],
    )
    .unwrap();
    let reason = packages::read_installed(&root).unknown_reason().unwrap();
    assert!(reason.contains("/var/lib/dpkg/status"), "{reason}");
    // A directory where the file should be.
    std::fs::remove_file(dir.path().join("var/lib/dpkg/status")).unwrap();
    std::fs::create_dir(dir.path().join("var/lib/dpkg/status")).unwrap();
    let reason = packages::read_installed(&root).unknown_reason().unwrap();
    assert!(reason.contains("/var/lib/dpkg/status"), "{reason}");
}

#[test]
fn installed_package_without_version_is_an_error() {
    let err = dpkg::parse_status("Package: a\nStatus: install ok installed\n").unwrap_err();
    assert_eq!(err.line, 1);
    assert!(err.reason.contains("Version"), "{}", err.reason);
}

#[test]
fn large_status_parses_every_stanza() {
    let mut text = String::new();
    for i in 0..5000 {
        text.push_str(&STANZA.replace("qemu-system-x86", &format!("pkg{i:05}")));
        text.push('\n');
    }
    let p = dpkg::parse_status(&text).unwrap();
    assert_eq!(p.len(), 5000);
    assert_eq!(p[4999].name, "pkg04999");
}

#[test]
fn owner_of_on_fixtures() {
    let r = root("intel-problems");
    let pk = packages::read_installed(&r);
    let list = pk.value().unwrap();
    assert!(
        !list.iter().any(|p| p.name == "qemu-system-arm"),
        "config-files state is not installed"
    );
    let owner = packages::owner_of(&r, list, Path::new("/usr/bin/qemu-system-x86_64")).unwrap();
    assert_eq!(
        (owner.name.as_str(), owner.source.as_str()),
        ("qemu-system-x86", "qemu")
    );
    assert_eq!(owner.source_version, "1:7.2+dfsg-7+deb12u18");
    // usrmerge: the package shipped /usr/bin/kvm, the config may say /bin/kvm.
    let owner = packages::owner_of(&r, list, Path::new("/bin/kvm")).unwrap();
    assert_eq!(owner.name, "qemu-system-x86");
    let owner = packages::owner_of(&r, list, Path::new("/usr/libexec/virtiofsd")).unwrap();
    assert_eq!(
        (owner.name.as_str(), owner.version.as_str()),
        ("virtiofsd", "1.5.0-1")
    );
    // Found through the fallback scan of every list (libc6 is no hypervisor package), with
    // its Multi-Arch `:amd64` list name.
    let owner = packages::owner_of(&r, list, Path::new("/lib/x86_64-linux-gnu/libc.so.6")).unwrap();
    assert_eq!(owner.name, "libc6");
    // The removed package's leftover list does not make it an owner.
    assert_eq!(
        packages::owner_of(&r, list, Path::new("/usr/bin/qemu-system-aarch64")),
        None
    );
    assert_eq!(
        packages::owner_of(&r, list, Path::new("/usr/bin/nothing")),
        None
    );
}
