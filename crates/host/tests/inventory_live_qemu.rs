//! The real Debian QEMU on this machine (`apt-get install qemu-system-x86`): its version is
//! read from the binary and its package is `qemu-system-x86` from source `qemu`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hvguard_core::{HostRoot, HypervisorKind, VersionSource};
use hvguard_host::{hypervisors, packages};
use std::path::Path;

const QEMU: &str = "/usr/bin/qemu-system-x86_64";
const LIST: &str = "/var/lib/dpkg/info/qemu-system-x86.list";

#[test]
fn real_debian_qemu_binary_and_package() {
    hvguard_testkit::require!(
        Path::new(QEMU).is_file() && Path::new(LIST).is_file(),
        "Debian's qemu-system-x86 (/usr/bin/qemu-system-x86_64 and its dpkg file list)",
        "apt-get install qemu-system-x86; .ci/run installs it"
    );
    let root = HostRoot::live();
    let pk = packages::read_installed(&root);
    let installed = pk.value().expect("live dpkg status parses");
    let deb = installed
        .iter()
        .find(|p| p.name == "qemu-system-x86")
        .expect("qemu-system-x86 in the dpkg status");
    assert_eq!(deb.source_name, "qemu");
    let inv = hypervisors::discover(&root, &pk, &[]);
    let q = inv
        .hypervisors
        .iter()
        .find(|h| h.path == Path::new(QEMU))
        .expect("the real QEMU is discovered");
    assert_eq!(q.kind, HypervisorKind::Qemu);
    assert_eq!(q.version_source, Some(VersionSource::BinaryString));
    let evidence = q.version_evidence.as_deref().unwrap();
    // The banner names the Debian package version the binary was built as.
    assert_eq!(
        evidence,
        format!(
            "QEMU emulator version {} (Debian {})",
            q.version.as_deref().unwrap(),
            deb.version
        )
    );
    let pkg = q.package.as_ref().expect("owned by a package");
    assert_eq!(
        (pkg.name.as_str(), pkg.source.as_str()),
        ("qemu-system-x86", "qemu")
    );
    // On the Debian 12 build installed by CI, the exact upstream release.
    if deb.version == "1:7.2+dfsg-7+deb12u18+b3" {
        assert_eq!(q.version.as_deref(), Some("7.2.22"));
        assert_eq!(pkg.source_version, "1:7.2+dfsg-7+deb12u18");
    }
}

/// The device type names of the real binary: virtio-snd first appeared in QEMU 8.2, so
/// Debian's 7.2 has no `virtio-sound-pci` although its virtio id table names `virtio-sound`;
/// pvrdma (removed in 9.1) is still there. The companion programs of the same package are
/// inventoried as their own kinds.
#[test]
fn real_debian_qemu_device_names_and_companions() {
    hvguard_testkit::require!(
        Path::new(QEMU).is_file() && Path::new(LIST).is_file(),
        "Debian's qemu-system-x86 (/usr/bin/qemu-system-x86_64 and its dpkg file list)",
        "apt-get install qemu-system-x86; .ci/run installs it"
    );
    let root = HostRoot::live();
    let pk = packages::read_installed(&root);
    let inv = hypervisors::discover(&root, &pk, &[]);
    let q = inv
        .hypervisors
        .iter()
        .find(|h| h.path == Path::new(QEMU))
        .expect("the real QEMU is discovered");
    let devices = q.devices.as_ref().expect("a device inventory");
    assert!(devices.anchors_found, "{devices:?}");
    let bytes = std::fs::read(QEMU).unwrap();
    assert!(
        bytes.windows(13).any(|w| w == b"virtio-sound\0"),
        "the id-table word is in the binary"
    );
    if q.version.as_deref().is_some_and(|v| v.starts_with("7.2.")) {
        assert!(devices.absent.contains("virtio-sound-pci"), "{devices:?}");
        assert!(devices.absent.contains("virtio-sound-device"));
        assert!(devices.present.contains("pvrdma"));
    }
    for name in [
        "virtio-blk-device",
        "virtio-serial-device",
        "e1000e",
        "isa-fdc",
    ] {
        assert!(devices.present.contains(name), "{name}: {devices:?}");
    }
    // qemu-system-common ships the C virtiofsd and the bridge helper.
    let c_virtiofsd = Path::new("/usr/lib/qemu/virtiofsd");
    if c_virtiofsd.is_file() {
        let h = inv
            .hypervisors
            .iter()
            .find(|h| h.path == c_virtiofsd)
            .expect("the C virtiofsd is discovered");
        assert_eq!(h.kind, HypervisorKind::QemuVirtiofsd);
        assert_eq!(h.version, q.version);
        assert!(h.devices.is_none());
    }
    let helper = Path::new("/usr/lib/qemu/qemu-bridge-helper");
    if helper.is_file() {
        let h = inv
            .hypervisors
            .iter()
            .find(|h| h.path == helper)
            .expect("the bridge helper is discovered");
        assert_eq!(h.kind, HypervisorKind::QemuBridgeHelper);
        assert_eq!(h.package.as_ref().map(|p| p.source.as_str()), Some("qemu"));
    }
}
