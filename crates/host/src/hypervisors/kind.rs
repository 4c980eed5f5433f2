//! What each hypervisor binary is called and how it spells its version inside itself.

use hvguard_core::HypervisorKind;

/// The kind a file name denotes, for the names installers give these binaries.
pub fn kind_from_file_name(name: &str) -> Option<HypervisorKind> {
    let kind = if name.starts_with("qemu-system-") || name == "qemu-kvm" {
        HypervisorKind::Qemu
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
    // printed "virtiofsd version".
    Banner {
        kind: HypervisorKind::Virtiofsd,
        prefix: "virtiofsd backend ",
    },
    Banner {
        kind: HypervisorKind::Virtiofsd,
        prefix: "virtiofsd version ",
    },
    Banner {
        kind: HypervisorKind::StratoVirt,
        prefix: "StratoVirt ",
    },
];

/// The banners of one kind.
pub fn banners_for(kind: HypervisorKind) -> Vec<Banner> {
    BANNERS.iter().copied().filter(|b| b.kind == kind).collect()
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
        assert_eq!(kind_from_file_name("qemu-img"), None);
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
