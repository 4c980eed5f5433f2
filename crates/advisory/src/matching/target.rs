//! What the matcher judges: every hypervisor binary of a Snapshot (and the programs built
//! with it: QEMU's tools, its guest agent, the C virtiofsd, Firecracker's jailer), plus the
//! static Kata install itself, each mapped to the advisory product it is an instance of.

use std::path::{Path, PathBuf};

use hvguard_core::{DeviceInventory, HypervisorKind, PackageRef, Probe, Snapshot, VersionSource};

use crate::{Advisory, Product};

/// One thing to match advisories against.
#[derive(Debug, Clone, PartialEq)]
pub struct Target<'a> {
    /// The binary (or, for Kata itself, the install's VERSION file).
    pub path: &'a Path,
    /// The product advisories name it by.
    pub product: Product,
    /// The binary's kind; `None` for the Kata install.
    pub kind: Option<HypervisorKind>,
    /// The upstream version, when known.
    pub version: Option<&'a str>,
    /// Where the upstream version came from, for evidence.
    pub version_from: String,
    /// The distro package owning the binary.
    pub package: Option<&'a PackageRef>,
    /// Kata configurations that name this binary.
    pub used_by: &'a [PathBuf],
    /// The QEMU device type names the binary registers, when read.
    pub devices: Option<&'a DeviceInventory>,
}

/// The product a binary of `kind` is an instance of; `None` for Dragonball, which is built
/// into the runtime-rs shim (Kata's own advisories cover it).
pub fn product_of(kind: HypervisorKind) -> Option<Product> {
    Some(match kind {
        HypervisorKind::Qemu
        | HypervisorKind::QemuImg
        | HypervisorKind::QemuNbd
        | HypervisorKind::QemuStorageDaemon
        | HypervisorKind::QemuGuestAgent
        | HypervisorKind::QemuBridgeHelper
        | HypervisorKind::QemuVirtiofsd => Product::Qemu,
        HypervisorKind::Firecracker | HypervisorKind::Jailer => Product::Firecracker,
        HypervisorKind::CloudHypervisor => Product::CloudHypervisor,
        HypervisorKind::StratoVirt => Product::StratoVirt,
        HypervisorKind::Virtiofsd => Product::Virtiofsd,
        HypervisorKind::Dragonball => return None,
    })
}

/// The product's main binary: what an advisory naming no binary is about.
fn main_binary(product: &Product) -> Option<HypervisorKind> {
    Some(match product {
        Product::Qemu => HypervisorKind::Qemu,
        Product::Firecracker => HypervisorKind::Firecracker,
        Product::CloudHypervisor => HypervisorKind::CloudHypervisor,
        Product::StratoVirt => HypervisorKind::StratoVirt,
        Product::Virtiofsd => HypervisorKind::Virtiofsd,
        Product::Kata | Product::RustVmm(_) | Product::Other(_) => return None,
    })
}

/// The binaries `advisory` concerns for `product`: its `binaries`; for records that predate
/// that field, the binary its component names (`jailer`, `qemu-img`, the QEMU guest agent,
/// the C virtiofsd); else the product's main binary.
pub fn concerned_binaries(advisory: &Advisory, product: &Product) -> Vec<HypervisorKind> {
    if !advisory.binaries.is_empty() {
        return advisory.binaries.clone();
    }
    let implied = match (product, advisory.component.as_deref()) {
        (Product::Firecracker, Some("jailer")) => Some(HypervisorKind::Jailer),
        (Product::Qemu, Some("qemu-img")) => Some(HypervisorKind::QemuImg),
        (Product::Qemu, Some("agent" | "guest-agent")) => Some(HypervisorKind::QemuGuestAgent),
        (Product::Qemu, Some("virtiofsd")) => Some(HypervisorKind::QemuVirtiofsd),
        (Product::Qemu, Some("bridge-helper")) => Some(HypervisorKind::QemuBridgeHelper),
        _ => None,
    };
    implied
        .or_else(|| main_binary(product))
        .into_iter()
        .collect()
}

/// True when `advisory` is about `target`: same product, and (for binaries) one of the
/// binaries it concerns.
pub fn concerns(advisory: &Advisory, target: &Target<'_>) -> bool {
    if !advisory
        .products
        .iter()
        .any(|p| p.product == target.product)
    {
        return false;
    }
    match target.kind {
        None => true,
        Some(kind) => concerned_binaries(advisory, &target.product).contains(&kind),
    }
}

fn describe_source(
    source: Option<VersionSource>,
    kata_release: Option<&str>,
    note: Option<&str>,
) -> String {
    match source {
        Some(VersionSource::BinaryString) => "the binary's embedded version string".into(),
        Some(VersionSource::Package) => "the owning package's version".into(),
        Some(VersionSource::KataVersions) => format!(
            "the Kata release table (Kata {} bundles it)",
            kata_release.unwrap_or("?")
        ),
        Some(VersionSource::Exec) => "`--version` output".into(),
        None => match note {
            Some(note) => format!("nowhere: {note}"),
            None => "nowhere (version unknown)".into(),
        },
    }
}

/// Every target of `snapshot`, in Snapshot order, Kata itself last.
pub fn targets(snapshot: &Snapshot) -> Vec<Target<'_>> {
    let mut out: Vec<Target<'_>> = snapshot
        .hypervisors
        .iter()
        .filter_map(|h| {
            Some(Target {
                path: &h.path,
                product: product_of(h.kind)?,
                kind: Some(h.kind),
                version: h.version.as_deref(),
                version_from: describe_source(
                    h.version_source,
                    h.kata_release.as_deref(),
                    h.version_note.as_deref(),
                ),
                package: h.package.as_ref(),
                used_by: &h.used_by,
                devices: h.devices.as_ref(),
            })
        })
        .collect();
    match &snapshot.kata_install {
        Probe::Found { value: install } => out.push(Target {
            path: &install.path,
            product: Product::Kata,
            kind: None,
            version: Some(&install.version),
            version_from: format!("the Kata release ({})", install.path.display()),
            package: None,
            used_by: &[],
            devices: None,
        }),
        // No static Kata install: nothing of Kata's own to judge.
        Probe::Absent { .. } => {}
        // A VERSION file that is there but cannot be read (a directory, a FIFO, refused):
        // every Kata advisory is judged "unknown" and listed, never silently dropped.
        unreadable => out.push(Target {
            path: match unreadable {
                Probe::Denied { path } => path,
                _ => Path::new(KATA_VERSION_FILE),
            },
            product: Product::Kata,
            kind: None,
            version: None,
            version_from: format!(
                "nowhere: the Kata release is unknown ({})",
                unreadable.unknown_reason().unwrap_or_default()
            ),
            package: None,
            used_by: &[],
            devices: None,
        }),
    }
    out
}

/// Where the static Kata install records its release.
const KATA_VERSION_FILE: &str = "/opt/kata/VERSION";
