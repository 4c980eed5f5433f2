//! The component table: for each component tag the curated advisories use, when a Kata
//! guest can reach it. One function per question keeps each reason next to its rule.

use super::surface::Surface;
use crate::Product;

/// One configuration's answer for one component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// The guest can reach the component; why.
    Reachable(String),
    /// The guest cannot reach it; why.
    NotReachable(String),
    /// The tag says nothing a configuration could decide (`other`, an unknown tag).
    Unclassified,
}

use Judgement::{NotReachable, Reachable};

/// Every component tag this table knows, for documentation and tests.
pub const KNOWN_COMPONENTS: &[&str] = &[
    "9p",
    "acpi",
    "agent",
    "annotations",
    "balloon",
    "e1000",
    "e1000e",
    "floppy",
    "guest-image",
    "ide",
    "jailer",
    "lsi-scsi",
    "megasas",
    "nbd",
    "nvme",
    "pci",
    "qemu-img",
    "qxl",
    "rng",
    "runtime",
    "sdhci",
    "serial",
    "slirp",
    "tcg",
    "usb",
    "vfio",
    "vga",
    "vhost-user",
    "virtio-blk",
    "virtio-crypto",
    "virtio-gpu",
    "virtio-net",
    "virtio-scsi",
    "virtiofsd",
    "vnc",
    "vsock",
];

/// Whether the guest of `s` can reach `component` of `product`.
pub fn judge(product: &Product, component: &str, s: &Surface) -> Judgement {
    let m = s.machine();
    let cfg = s.config.display();
    match component {
        "floppy" if s.section == "qemu" && s.is_legacy_pc() => Reachable(format!(
            "machine type {m} has the ISA floppy controller (fdc) ({cfg})"
        )),
        "floppy" => NotReachable(format!(
            "the floppy controller exists only on machine type pc; {cfg} uses {}",
            describe_machine(s)
        )),
        "ide" => ide(s),
        "usb" => NotReachable(
            "Kata starts QEMU with -nodefaults and configures no USB controller".into(),
        ),
        "vga" | "qxl" | "virtio-gpu" | "vnc" => NotReachable(format!(
            "Kata runs the VM headless (-vga none, -display none): no {component} is configured"
        )),
        "e1000" | "e1000e" => NotReachable(format!(
            "Kata's network interfaces are virtio-net; no {component} NIC is configured"
        )),
        "lsi-scsi" | "megasas" => NotReachable(format!(
            "Kata's SCSI controller is virtio-scsi; no {component} HBA is configured"
        )),
        "nvme" => NotReachable(format!(
            "Kata attaches no emulated NVMe controller (block_device_driver = {})",
            or_unset(s.block_driver())
        )),
        "sdhci" => NotReachable("no Kata machine type has an SD host controller (SDHCI)".into()),
        "virtio-crypto" => NotReachable("Kata configures no virtio-crypto device".into()),
        "slirp" => NotReachable(
            "Kata networks through tap/macvtap devices, not user-mode (SLiRP) networking".into(),
        ),
        "tcg" => NotReachable(
            "Kata runs QEMU with KVM acceleration; the TCG emulator is not used".into(),
        ),
        "qemu-img" | "nbd" => NotReachable(format!(
            "{component} is a host-side tool or server that no Kata guest reaches"
        )),
        "agent" if *product == Product::Qemu => NotReachable(
            "the QEMU guest agent is not used by Kata (the Kata agent talks over vsock)".into(),
        ),
        "agent" | "runtime" | "guest-image" => Reachable(format!(
            "the Kata {component} is part of every sandbox ({cfg})"
        )),
        "virtio-net" => Reachable(format!(
            "every Kata sandbox has virtio-net interfaces ({cfg})"
        )),
        "vsock" => Reachable(format!("the Kata agent talks to the host over vsock ({cfg})")),
        "serial" => Reachable(format!("the guest console is a serial device ({cfg})")),
        "balloon" | "rng" => Reachable(format!(
            "Kata adds a virtio {component} device to the guest ({cfg})"
        )),
        "acpi" => Reachable(format!("the guest has ACPI devices ({cfg})")),
        "pci" if s.has_pci() => Reachable(format!(
            "the {} guest has a PCI bus ({cfg})",
            describe_machine(s)
        )),
        "pci" => NotReachable(format!(
            "{} guests have no PCI bus (virtio-mmio devices) ({cfg})",
            describe_machine(s)
        )),
        "virtio-blk" => virtio_blk(s),
        "virtio-scsi" if s.block_driver() == "virtio-scsi" => {
            Reachable(format!("block_device_driver = virtio-scsi ({cfg})"))
        }
        "virtio-scsi" => NotReachable(format!(
            "block_device_driver = {}: no virtio-scsi controller ({cfg})",
            or_unset(s.block_driver())
        )),
        "9p" if s.uses_9p() => Reachable(format!("shared_fs = virtio-9p ({cfg})")),
        "9p" => NotReachable(format!(
            "shared_fs = {}: no 9p device ({cfg})",
            s.shared_fs()
        )),
        "virtiofsd" if s.uses_virtio_fs() => Reachable(format!(
            "shared_fs = {}: the guest talks to virtiofsd ({cfg})",
            s.shared_fs()
        )),
        "virtiofsd" => NotReachable(format!(
            "shared_fs = {}: virtiofsd is not used ({cfg})",
            s.shared_fs()
        )),
        "vfio" if s.vfio => Reachable(format!("VFIO passthrough is configured ({cfg})")),
        "vfio" => NotReachable(format!(
            "VFIO passthrough is not configured (hot_plug_vfio/cold_plug_vfio unset or no-port) ({cfg})"
        )),
        "vhost-user" if s.vhost_user => {
            Reachable(format!("enable_vhost_user_store = true ({cfg})"))
        }
        "vhost-user" => NotReachable(format!(
            "enable_vhost_user_store is not enabled: no vhost-user devices ({cfg})"
        )),
        "jailer" if s.jailer => Reachable(format!(
            "jailer_path is set: Kata starts Firecracker through the jailer ({cfg})"
        )),
        "jailer" => NotReachable(format!("no jailer_path: the jailer is not run ({cfg})")),
        "annotations" if s.annotations => Reachable(format!(
            "enable_annotations lets pod authors set hypervisor options ({cfg})"
        )),
        "annotations" => NotReachable(format!(
            "enable_annotations is empty: pods cannot set hypervisor annotations ({cfg})"
        )),
        _ => Judgement::Unclassified,
    }
}

fn ide(s: &Surface) -> Judgement {
    let cfg = s.config.display();
    if s.section != "qemu" {
        NotReachable(format!("{} guests have no IDE controller", s.section))
    } else if s.is_legacy_pc() {
        Reachable(format!(
            "machine type {} has the PIIX IDE controller ({cfg})",
            s.machine()
        ))
    } else if s.is_q35() {
        // Kata's q35 guests keep the chipset's built-in AHCI controller, which runs QEMU's
        // IDE core: lowering IDE advisories there would hide a reachable device.
        Reachable(format!(
            "machine type {}'s built-in ICH9 AHCI controller runs QEMU's IDE code ({cfg})",
            s.machine()
        ))
    } else {
        NotReachable(format!(
            "machine type {} has no IDE or AHCI controller ({cfg})",
            s.machine()
        ))
    }
}

fn virtio_blk(s: &Surface) -> Judgement {
    let cfg = s.config.display();
    let driver = s.block_driver();
    if driver.starts_with("virtio-blk") || (s.section != "qemu" && driver == "virtio-mmio") {
        Reachable(format!("block_device_driver = {driver} ({cfg})"))
    } else if s.image_as_block {
        Reachable(format!(
            "disable_image_nvdimm = true: the guest image is a virtio-blk disk ({cfg})"
        ))
    } else if s.section == "qemu" {
        NotReachable(format!(
            "block_device_driver = {} and the guest image is on nvdimm: no virtio-blk device ({cfg})",
            or_unset(driver)
        ))
    } else {
        Reachable(format!(
            "{} attaches the guest image and volumes as virtio-blk disks ({cfg})",
            s.section
        ))
    }
}

fn describe_machine(s: &Surface) -> String {
    match (s.section.as_str(), &s.machine_type) {
        ("qemu", Some(m)) => m.clone(),
        ("qemu", None) => "q35 (Kata's default; machine_type not set)".into(),
        (section, _) => section.to_owned(),
    }
}

fn or_unset(value: &str) -> &str {
    if value.is_empty() {
        "(not set)"
    } else {
        value
    }
}
