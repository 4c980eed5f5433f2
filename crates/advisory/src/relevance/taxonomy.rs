//! The component taxonomy: every name an advisory's `components` may hold, what kind of
//! thing it is, and the QEMU type names (QOM) that register it, for the device-presence check.
//!
//! Advisories name components most specific first (`["virtio-gpu", "virtio-serial",
//! "virtio-crypto"]` for CVE-2024-3446, whose DMA re-entrancy fix touched all three).
//! `docs/advisory-matching.md` lists the table with the reachability rule of each entry.

/// What a component is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// An emulated device a guest talks to.
    Device,
    /// Host-side code no guest drives: image tools, NBD, VNC, user-mode networking, helpers.
    HostTool,
    /// QEMU's guest agent, a program that runs inside guests.
    GuestAgent,
    /// Code every guest exercises: guest memory access, DMA, the re-entrancy guard.
    Core,
    /// Code only another target architecture builds (ARM GIC, POWER sPAPR).
    Arch,
    /// A part of Kata itself (runtime, agent, guest image, annotations).
    Kata,
    /// A part of a Rust VMM or its crates (Firecracker, Cloud Hypervisor, rust-vmm).
    Vmm,
}

/// One taxonomy entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// The name advisories use.
    pub name: &'static str,
    /// What it is.
    pub class: Class,
    /// QOM type names registering it in a QEMU binary; empty when presence is not decided
    /// from type names (core code, host tools, non-QEMU parts).
    pub qom: &'static [&'static str],
}

const fn device(name: &'static str, qom: &'static [&'static str]) -> Spec {
    Spec {
        name,
        class: Class::Device,
        qom,
    }
}

const fn of(name: &'static str, class: Class) -> Spec {
    Spec {
        name,
        class,
        qom: &[],
    }
}

/// The taxonomy, sorted by name.
pub const TAXONOMY: &[Spec] = &[
    device("9p", &["virtio-9p-device"]),
    of("acpi", Class::Device),
    device("acpi-erst", &["acpi-erst"]),
    device("ahci", &["ich9-ahci"]),
    of("annotations", Class::Kata),
    of("arch-arm", Class::Arch),
    of("arch-ppc", Class::Arch),
    device("ati-vga", &["ati-vga"]),
    of("block-format", Class::HostTool),
    of("block-iscsi", Class::HostTool),
    of("block-jobs", Class::HostTool),
    device("bluetooth", &["usb-bt-dongle"]),
    of("bridge-helper", Class::HostTool),
    device("e1000", &["e1000"]),
    device("e1000e", &["e1000e"]),
    device(
        "eepro100",
        &[
            "i82550", "i82551", "i82557a", "i82557b", "i82557c", "i82558a", "i82558b", "i82559a",
            "i82559b", "i82559c", "i82559er", "i82562", "i82801",
        ],
    ),
    device("es1370", &["ES1370"]),
    device("esp-scsi", &["am53c974", "dc390", "sysbus-esp"]),
    device("floppy", &["isa-fdc", "sysbus-fdc"]),
    of("guest-agent", Class::GuestAgent),
    of("guest-image", Class::Kata),
    device("hyperv", &["hv-syndbg"]),
    device(
        "ide",
        &["piix3-ide", "piix4-ide", "ich9-ahci", "ide-hd", "ide-cd"],
    ),
    device("igb", &["igb"]),
    device("intel-hda", &["intel-hda", "ich9-intel-hda"]),
    of("jailer", Class::Vmm),
    of("kata-agent", Class::Kata),
    of("kata-runtime", Class::Kata),
    device("lsi-scsi", &["lsi53c895a", "lsi53c810"]),
    device("megasas", &["megasas", "megasas-gen2"]),
    of("memory-core", Class::Core),
    device("mptsas", &["mptsas1068"]),
    of("nbd", Class::HostTool),
    device("nvdimm", &["nvdimm"]),
    device("nvme", &["nvme"]),
    of("pci", Class::Device),
    device("pcie-sriov", &["nvme", "igb"]),
    device("pcnet", &["pcnet"]),
    device("pvpanic", &["pvpanic", "pvpanic-pci"]),
    device("pvrdma", &["pvrdma"]),
    of("qemu-img", Class::HostTool),
    device("qxl", &["qxl", "qxl-vga"]),
    device("rocker", &["rocker"]),
    device("rtl8139", &["rtl8139"]),
    of("rust-vmm", Class::Vmm),
    device(
        "scsi-disk",
        &[
            "virtio-scsi-device",
            "lsi53c895a",
            "megasas",
            "mptsas1068",
            "am53c974",
        ],
    ),
    device("sdhci", &["sdhci-pci", "generic-sdhci", "sd-card"]),
    of("serial", Class::Device),
    of("slirp", Class::HostTool),
    device("sm501", &["sm501", "sysbus-sm501"]),
    of("tcg", Class::Core),
    device("tulip", &["tulip"]),
    device(
        "usb",
        &[
            "nec-usb-xhci",
            "qemu-xhci",
            "usb-ehci",
            "ich9-usb-ehci1",
            "pci-ohci",
            "piix3-usb-uhci",
            "usb-redir",
            "usb-uas",
            "dwc2-usb",
        ],
    ),
    device("vfio", &["vfio-pci"]),
    device("vga", &["VGA", "cirrus-vga"]),
    device("vhost-user", &[]),
    device("vhost-user-gpu", &["vhost-user-gpu"]),
    device(
        "viommu",
        &["intel-iommu", "virtio-iommu-device", "amd-iommu"],
    ),
    device("virtio-balloon", &["virtio-balloon-device"]),
    device("virtio-blk", &["virtio-blk-device"]),
    device("virtio-crypto", &["virtio-crypto-device"]),
    device("virtio-fs", &["vhost-user-fs-device"]),
    device("virtio-gpu", &["virtio-gpu-device"]),
    device("virtio-mmio", &["virtio-mmio"]),
    device("virtio-net", &["virtio-net-device"]),
    of("virtio-pci", Class::Device),
    device("virtio-rng", &["virtio-rng-device"]),
    device("virtio-scsi", &["virtio-scsi-device"]),
    device("virtio-serial", &["virtio-serial-device"]),
    device("virtio-snd", &["virtio-sound-device", "virtio-sound-pci"]),
    of("virtiofsd", Class::HostTool),
    device("vmxnet3", &["vmxnet3"]),
    of("vnc", Class::HostTool),
    device("vsock", &["vhost-vsock-device"]),
    device("xgmac", &["xgmac"]),
];

/// The entry for `name`.
pub fn spec(name: &str) -> Option<&'static Spec> {
    TAXONOMY
        .binary_search_by(|s| s.name.cmp(name))
        .ok()
        .map(|i| &TAXONOMY[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_unique_and_found() {
        for pair in TAXONOMY.windows(2) {
            assert!(
                pair[0].name < pair[1].name,
                "{} {}",
                pair[0].name,
                pair[1].name
            );
        }
        for s in TAXONOMY {
            assert_eq!(spec(s.name), Some(s));
        }
        assert_eq!(spec("other"), None);
    }
}
