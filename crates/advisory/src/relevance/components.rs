//! Which components a Kata guest can reach, per machine type and configuration. One match
//! arm per rule keeps each reason next to its rule; `docs/advisory-matching.md` lists them.
//!
//! The device model is Kata's: every QEMU sandbox gets a virtio-serial console, a vhost-vsock
//! device for the agent, virtio-net interfaces and a virtio-rng; q35 brings the ICH9 AHCI
//! controller, PCIe root ports and ACPI; the configuration adds virtio-scsi or virtio-blk
//! disks, virtio-fs or 9p sharing, an nvdimm guest image, VFIO devices, a balloon, pvpanic
//! and a vIOMMU; microvm has virtio-mmio devices and no PCI.

use hvguard_core::{HypervisorKind, KataRuntime};

use super::surface::Surface;
use super::taxonomy::{spec, Class};

/// One configuration's answer for one component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// The guest can reach the component; why.
    Reachable(String),
    /// The guest cannot reach it; why.
    NotReachable(String),
    /// The configuration does not say (a default that differs between releases, an
    /// unknown component name).
    Unknown(String),
}

use Judgement::{NotReachable, Reachable, Unknown};

/// Every component name the table judges, for documentation and tests.
pub fn known_components() -> impl Iterator<Item = &'static str> {
    super::taxonomy::TAXONOMY.iter().map(|s| s.name)
}

/// Whether the guest of `s` can reach `component`.
pub fn judge(component: &str, s: &Surface) -> Judgement {
    let cfg = s.config.display();
    let m = describe_machine(s);
    let qemu = s.kind == HypervisorKind::Qemu;
    match component {
        // Every sandbox.
        "virtio-net" => Reachable(format!(
            "every Kata sandbox has virtio-net interfaces ({cfg})"
        )),
        "vsock" => Reachable(format!("the Kata agent talks to the host over vsock ({cfg})")),
        "virtio-serial" if qemu => Reachable(format!(
            "Kata always adds a virtio-serial console to QEMU guests ({cfg})"
        )),
        "serial" | "virtio-serial" => Reachable(format!("the guest console is a serial device ({cfg})")),
        "virtio-rng" if qemu => Reachable(format!(
            "Kata adds a virtio-rng device fed by entropy_source ({cfg})"
        )),
        "memory-core" => Reachable(format!(
            "every guest's DMA and memory accesses go through this code ({cfg})"
        )),
        "acpi" if qemu => Reachable(format!("the {m} guest has ACPI devices ({cfg})")),
        "kata-runtime" | "kata-agent" | "guest-image" => Reachable(format!(
            "the Kata {} is part of every sandbox ({cfg})",
            component.trim_start_matches("kata-")
        )),

        // The machine type.
        "pci" | "virtio-pci" if s.has_pci() => {
            Reachable(format!("the {m} guest has a PCI bus ({cfg})"))
        }
        "pci" | "virtio-pci" => NotReachable(format!(
            "{m} guests have no PCI bus (virtio-mmio devices) ({cfg})"
        )),
        "virtio-mmio" if !s.has_pci() || s.machine() == "microvm" => {
            Reachable(format!("{m} guests use virtio-mmio devices ({cfg})"))
        }
        "virtio-mmio" => NotReachable(format!(
            "{m} guests use virtio-pci, not virtio-mmio ({cfg})"
        )),
        "floppy" if qemu && s.is_legacy_pc() => Reachable(format!(
            "machine type {m} has the ISA floppy controller (fdc) ({cfg})"
        )),
        "floppy" => NotReachable(format!(
            "the floppy controller exists only on machine type pc; {cfg} uses {m}"
        )),
        "ahci" if qemu && s.is_q35() => Reachable(format!(
            "machine type {m} has the built-in ICH9 AHCI controller ({cfg})"
        )),
        "ahci" => NotReachable(format!("{m} guests have no AHCI controller ({cfg})")),
        "ide" => ide(s),

        // The configuration.
        "virtio-blk" => virtio_blk(s),
        "virtio-scsi" | "scsi-disk" => virtio_scsi(component, s),
        "nvdimm" if qemu && !s.image_as_block => Reachable(format!(
            "the guest image is attached as an nvdimm (disable_image_nvdimm is not set) ({cfg})"
        )),
        "nvdimm" => NotReachable(format!(
            "the guest image is not an nvdimm (disable_image_nvdimm = true, or not QEMU) ({cfg})"
        )),
        "9p" if s.uses_9p() => Reachable(format!("shared_fs = virtio-9p ({cfg})")),
        "9p" => NotReachable(format!(
            "shared_fs = {}: no 9p device ({cfg})",
            s.shared_fs()
        )),
        "virtio-fs" | "virtiofsd" if s.uses_virtio_fs() => Reachable(format!(
            "shared_fs = {}: the guest talks to virtiofsd ({cfg})",
            s.shared_fs()
        )),
        "virtio-fs" | "virtiofsd" => NotReachable(format!(
            "shared_fs = {}: virtio-fs is not used ({cfg})",
            s.shared_fs()
        )),
        "vfio" if s.vfio => Reachable(format!("VFIO passthrough is configured ({cfg})")),
        "vfio" => NotReachable(format!(
            "VFIO passthrough is not configured (hot_plug_vfio/cold_plug_vfio unset or no-port) ({cfg})"
        )),
        "viommu" if s.iommu => Reachable(format!("enable_iommu = true: the guest has a vIOMMU ({cfg})")),
        "viommu" => NotReachable(format!("enable_iommu is not set: no vIOMMU ({cfg})")),
        "virtio-balloon" if s.balloon_reporting => Reachable(format!(
            "reclaim_guest_freed_memory = true: the guest has a virtio-balloon device ({cfg})"
        )),
        "virtio-balloon" => Unknown(format!(
            "whether this Kata release adds a virtio-balloon device without reclaim_guest_freed_memory is not known ({cfg})"
        )),
        "pvpanic" if s.pvpanic => Reachable(format!(
            "guest_memory_dump_path is set: Kata adds a pvpanic device ({cfg})"
        )),
        "pvpanic" => NotReachable(format!(
            "guest_memory_dump_path is not set: no pvpanic device ({cfg})"
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

        // Devices Kata never attaches.
        "pcie-sriov" => NotReachable(
            "SR-IOV emulation is only reachable through an emulated nvme or igb (QEMU 8.0+) device, and Kata attaches neither".into(),
        ),
        "acpi-erst" => NotReachable(
            "the ACPI ERST device is opt-in (-device acpi-erst) and Kata never adds it".into(),
        ),
        "usb" | "bluetooth" => NotReachable(
            "Kata starts QEMU with -nodefaults and configures no USB controller".into(),
        ),
        "vga" | "ati-vga" | "sm501" | "qxl" | "virtio-gpu" | "vhost-user-gpu" | "vnc" => {
            NotReachable(format!(
                "Kata runs the VM headless (-vga none, -display none): no {component} is configured"
            ))
        }
        "e1000" | "e1000e" | "igb" | "vmxnet3" | "eepro100" | "tulip" | "rtl8139" | "pcnet"
        | "rocker" | "pvrdma" | "xgmac" => NotReachable(format!(
            "Kata's network interfaces are virtio-net; no {component} device is configured"
        )),
        "lsi-scsi" | "megasas" | "mptsas" | "esp-scsi" => NotReachable(format!(
            "Kata's SCSI controller is virtio-scsi; no {component} HBA is configured"
        )),
        "nvme" => NotReachable(format!(
            "Kata attaches no emulated NVMe controller (block_device_driver = {})",
            or_unset(s.block_driver())
        )),
        "sdhci" => NotReachable("no Kata machine type has an SD host controller (SDHCI)".into()),
        "virtio-crypto" => NotReachable("Kata configures no virtio-crypto device".into()),
        "virtio-snd" | "intel-hda" | "es1370" => {
            NotReachable(format!("Kata configures no audio device; no {component}"))
        }
        "hyperv" => NotReachable("Kata enables no Hyper-V emulation devices (hv-syndbg, VMBus)".into()),
        "slirp" => NotReachable(
            "Kata networks through tap/macvtap devices, not user-mode (SLiRP) networking".into(),
        ),
        "tcg" => NotReachable(
            "Kata runs QEMU with KVM acceleration; the TCG emulator is not used".into(),
        ),
        "arch-arm" | "arch-ppc" if qemu => NotReachable(format!(
            "{component} code belongs to another target architecture than the {m} guest"
        )),
        "guest-agent" => NotReachable(
            "the QEMU guest agent (qemu-ga) is not used by Kata: the Kata agent talks over vsock".into(),
        ),
        "qemu-img" | "nbd" | "block-format" | "block-iscsi" | "block-jobs" | "bridge-helper" => {
            NotReachable(format!(
                "{component} is host-side code that no Kata guest drives"
            ))
        }
        _ => match spec(component).map(|s| s.class) {
            Some(Class::Vmm) => Unknown(format!(
                "component `{component}` of a Rust VMM is not classified by the reachability model"
            )),
            _ => Unknown(format!(
                "component `{component}` is not classified by the reachability model"
            )),
        },
    }
}

fn ide(s: &Surface) -> Judgement {
    let cfg = s.config.display();
    if s.kind != HypervisorKind::Qemu {
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

/// The block driver in effect: as configured, else the runtime's default when known.
fn block_driver(s: &Surface) -> Option<&str> {
    match (s.block_device_driver.as_deref(), s.kind, s.runtime) {
        (Some(d), _, _) => Some(d),
        // The Go runtime defaults to virtio-scsi (katautils defaultBlockDeviceDriver).
        (None, HypervisorKind::Qemu, KataRuntime::Go) => Some("virtio-scsi"),
        _ => None,
    }
}

fn virtio_scsi(component: &str, s: &Surface) -> Judgement {
    let cfg = s.config.display();
    match block_driver(s) {
        Some("virtio-scsi") if s.block_device_driver.is_none() => Reachable(format!(
            "block_device_driver is not set and the Go runtime's default is virtio-scsi ({cfg})"
        )),
        Some("virtio-scsi") => Reachable(format!("block_device_driver = virtio-scsi ({cfg})")),
        Some(other) => NotReachable(format!(
            "block_device_driver = {other}: no virtio-scsi controller, so no {component} ({cfg})"
        )),
        None => Unknown(format!(
            "block_device_driver is not set and this runtime's default is not known ({cfg})"
        )),
    }
}

fn virtio_blk(s: &Surface) -> Judgement {
    let cfg = s.config.display();
    let driver = block_driver(s);
    if s.kind != HypervisorKind::Qemu {
        return Reachable(format!(
            "{} attaches the guest image and volumes as virtio-blk disks ({cfg})",
            s.section
        ));
    }
    match driver {
        Some(d) if d.starts_with("virtio-blk") => {
            Reachable(format!("block_device_driver = {d} ({cfg})"))
        }
        _ if s.image_as_block => Reachable(format!(
            "disable_image_nvdimm = true: the guest image is a virtio-blk disk ({cfg})"
        )),
        Some(d) => NotReachable(format!(
            "block_device_driver = {d} and the guest image is on nvdimm: no virtio-blk device ({cfg})"
        )),
        None => Unknown(format!(
            "block_device_driver is not set and this runtime's default is not known ({cfg})"
        )),
    }
}

fn describe_machine(s: &Surface) -> String {
    match (s.kind, &s.machine_type) {
        (HypervisorKind::Qemu, Some(m)) => m.clone(),
        (HypervisorKind::Qemu, None) => "q35 (Kata's default; machine_type not set)".into(),
        _ => s.section.clone(),
    }
}

fn or_unset(value: &str) -> &str {
    if value.is_empty() {
        "(not set)"
    } else {
        value
    }
}
