//! The real Debian containerd on this machine (`apt-get install containerd`): its version is
//! read from the binary, without running it, and agrees with its package. Without containerd
//! the test says SKIPPED; with `CI=true` it fails instead.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hvguard_core::{ContainerdSemantics, HostRoot, VersionSource};
use hvguard_host::{containerd, packages};
use std::path::Path;

const CONTAINERD: &str = "/usr/bin/containerd";

#[test]
fn real_debian_containerd_version_from_the_binary() {
    if !Path::new(CONTAINERD).is_file() {
        let why = format!("Debian containerd not installed ({CONTAINERD} missing)");
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true and {why}");
        }
        eprintln!("\n*** SKIPPED: {why} ***\n");
        println!("SKIPPED: {why}");
        return;
    }
    let root = HostRoot::live();
    let pk = packages::read_installed(&root);
    let found = containerd::discover(&root, &pk);
    let bin = found
        .binaries
        .iter()
        .find(|b| b.path == Path::new(CONTAINERD))
        .expect("the real containerd is found");
    assert_eq!(bin.version_source, Some(VersionSource::BinaryString));
    let version = bin.version.as_deref().unwrap();
    let pkg = bin.package.as_ref().expect("owned by a package");
    assert_eq!(pkg.name, "containerd");
    // The source tree's version in the binary is the package's upstream version.
    assert_eq!(version, packages::upstream_version(&pkg.version));
    assert_eq!(
        bin.version_evidence.as_deref(),
        Some(format!("{version}+unknown").as_str())
    );
    assert!(ContainerdSemantics::for_version(version).is_some());
    // On the Debian 12 build installed by CI, the exact release and its family.
    if pkg.version == "1.6.20~ds1-1+deb12u3" {
        assert_eq!(version, "1.6.20");
        assert_eq!(
            ContainerdSemantics::for_version(version),
            Some(ContainerdSemantics::V1CwdGlobs)
        );
    }
}

#[test]
fn a_binary_without_version_strings_takes_its_package_version() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("usr/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("containerd"), b"\x7fELF stripped of everything").unwrap();
    std::fs::create_dir_all(dir.path().join("usr/local/bin")).unwrap();
    std::fs::write(
        dir.path().join("usr/local/bin/containerd"),
        b"junk\0/var/run/netns2.0.2+unknown\0more",
    )
    .unwrap();
    let info = dir.path().join("var/lib/dpkg/info");
    std::fs::create_dir_all(&info).unwrap();
    std::fs::write(info.join("containerd.list"), "/usr/bin/containerd\n").unwrap();
    std::fs::write(
        dir.path().join("var/lib/dpkg/status"),
        "Package: containerd\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.6.20~ds1-1+deb12u3\n\n",
    )
    .unwrap();
    let root = HostRoot::new(dir.path()).unwrap();
    let pk = packages::read_installed(&root);
    let found = containerd::discover(&root, &pk);
    assert!(found.warnings.is_empty(), "{:?}", found.warnings);
    let versions: Vec<_> = found
        .binaries
        .iter()
        .map(|b| {
            (
                b.path.to_string_lossy().into_owned(),
                b.version.clone(),
                b.version_source,
            )
        })
        .collect();
    assert_eq!(
        versions,
        [
            (
                "/usr/bin/containerd".to_string(),
                Some("1.6.20".to_string()),
                Some(VersionSource::Package)
            ),
            (
                "/usr/local/bin/containerd".to_string(),
                Some("2.0.2".to_string()),
                Some(VersionSource::BinaryString)
            ),
        ]
    );
    // Two installs of different families: both readings are in play.
    assert_eq!(hvguard_core::readings_in_play(&found.binaries).len(), 2);
}
