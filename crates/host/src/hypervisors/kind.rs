//! What each hypervisor binary is called and how it spells its version inside itself.

use hvguard_core::HypervisorKind;

/// The kind a file name denotes, for the names installers give these binaries.
pub fn kind_from_file_name(name: &str) -> Option<HypervisorKind> {
    let kind = if name.starts_with("qemu-system-") || name == "qemu-kvm" {
        HypervisorKind::Qemu
    } else if name == "qemu-img" {
        HypervisorKind::QemuImg
    } else if name == "qemu-nbd" {
        HypervisorKind::QemuNbd
    } else if name == "qemu-storage-daemon" {
        HypervisorKind::QemuStorageDaemon
    } else if name == "qemu-ga" {
        HypervisorKind::QemuGuestAgent
    } else if name == "qemu-bridge-helper" {
        HypervisorKind::QemuBridgeHelper
    } else if name == "firecracker" || name.starts_with("firecracker-v") {
        HypervisorKind::Firecracker
    } else if name == "jailer" || name.starts_with("jailer-v") {
        HypervisorKind::Jailer
    } else if name == "cloud-hypervisor" || name.starts_with("cloud-hypervisor-") {
        HypervisorKind::CloudHypervisor
    } else if name == "virtiofsd" {
        HypervisorKind::Virtiofsd
    } else if name == "stratovirt" {
        HypervisorKind::StratoVirt
    } else {
        return None;
    };
    // Debug-symbol and backup copies share the stem but are not what a runtime launches.
    if name.ends_with(".debug") || name.ends_with(".dbg") || name.ends_with('~') {
        return None;
    }
    Some(kind)
}

/// An embedded banner: the bytes that precede the version in the binary's `--version` text.
#[derive(Debug, Clone, Copy)]
pub struct Banner {
    pub kind: HypervisorKind,
    pub prefix: &'static str,
}

/// Every banner, in the order they are tried when a binary's kind is not known from its name.
///
/// QEMU builds its `--version` text by C string-literal concatenation
/// (`"QEMU emulator version " QEMU_FULL_VERSION "\n"`), so the whole line sits in `.rodata`.
/// The Rust VMMs format it at run time (`println!("Firecracker v{}", VERSION)`), so a release
/// binary normally stores the prefix and the bare version apart; a contiguous banner appears
/// only where a build or packager embeds it (distribution packages, kata-deploy's builds).
/// When it is missing the owning package or the Kata release table supplies the version.
pub const BANNERS: &[Banner] = &[
    Banner {
        kind: HypervisorKind::Qemu,
        prefix: "QEMU emulator version ",
    },
    Banner {
        kind: HypervisorKind::Firecracker,
        prefix: "Firecracker v",
    },
    Banner {
        kind: HypervisorKind::Jailer,
        prefix: "Jailer v",
    },
    Banner {
        kind: HypervisorKind::CloudHypervisor,
        prefix: "cloud-hypervisor v",
    },
    // Rust virtiofsd's clap command is named "virtiofsd backend"; QEMU's retired C virtiofsd
    // prints "virtiofsd version" and QEMU's full version (Debian 12's /usr/lib/qemu/virtiofsd:
    // `virtiofsd version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)`).
    Banner {
        kind: HypervisorKind::Virtiofsd,
        prefix: "virtiofsd backend ",
    },
    Banner {
        kind: HypervisorKind::QemuVirtiofsd,
        prefix: "virtiofsd version ",
    },
    // QEMU's tools print QEMU's full version after their name (Debian 12's qemu-img and
    // qemu-storage-daemon; qemu-ga says "QEMU Guest Agent"). qemu-nbd formats its name with
    // "%s", so its literal starts with the format directive. The bridge helper has no banner
    // and gets its package's version.
    Banner {
        kind: HypervisorKind::QemuImg,
        prefix: "qemu-img version ",
    },
    Banner {
        kind: HypervisorKind::QemuStorageDaemon,
        prefix: "qemu-storage-daemon version ",
    },
    Banner {
        kind: HypervisorKind::QemuGuestAgent,
        prefix: "QEMU Guest Agent ",
    },
    Banner {
        kind: HypervisorKind::QemuNbd,
        prefix: "%s ",
    },
    Banner {
        kind: HypervisorKind::StratoVirt,
        prefix: "StratoVirt ",
    },
];

/// The banners a binary named like `kind` may carry: a `virtiofsd` is the Rust daemon or
/// QEMU's C one, which only the banner tells apart.
pub fn banners_for(kind: HypervisorKind) -> Vec<Banner> {
    BANNERS
        .iter()
        .copied()
        .filter(|b| {
            b.kind == kind
                || (kind == HypervisorKind::Virtiofsd && b.kind == HypervisorKind::QemuVirtiofsd)
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            kind_from_file_name("qemu-system-x86_64-snp-experimental"),
            Some(HypervisorKind::Qemu)
        );
        assert_eq!(kind_from_file_name("qemu-kvm"), Some(HypervisorKind::Qemu));
        assert_eq!(
            kind_from_file_name("qemu-img"),
            Some(HypervisorKind::QemuImg)
        );
        assert_eq!(
            kind_from_file_name("qemu-ga"),
            Some(HypervisorKind::QemuGuestAgent)
        );
        assert_eq!(kind_from_file_name("qemu-pr-helper"), None);
        assert_eq!(kind_from_file_name("qemu-system-x86_64.debug"), None);
        assert_eq!(kind_from_file_name("jailer"), Some(HypervisorKind::Jailer));
        assert_eq!(kind_from_file_name("kata-runtime"), None);
        assert_eq!(
            kind_from_file_name("virtiofsd"),
            Some(HypervisorKind::Virtiofsd)
        );
        assert_eq!(banners_for(HypervisorKind::Virtiofsd).len(), 2);
    }
}
