//! What the matcher judges: every hypervisor binary of a Snapshot, plus the static Kata
//! install itself, each mapped to the advisory product it is an instance of.

use std::path::{Path, PathBuf};

use hvguard_core::{HypervisorKind, PackageRef, Probe, Snapshot, VersionSource};

use crate::Product;

/// Which of a product's advisories apply to a binary: the jailer ships in Firecracker's
/// release but only the jailer's own advisories concern the jailer binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentFilter {
    /// Every advisory of the product.
    All,
    /// Only advisories tagged with this component.
    Only(&'static str),
    /// Every advisory except those tagged with this component.
    Except(&'static str),
}

impl ComponentFilter {
    /// True when an advisory with `component` applies.
    pub fn admits(self, component: Option<&str>) -> bool {
        match self {
            ComponentFilter::All => true,
            ComponentFilter::Only(c) => component == Some(c),
            ComponentFilter::Except(c) => component != Some(c),
        }
    }
}

/// One thing to match advisories against.
#[derive(Debug, Clone, PartialEq)]
pub struct Target<'a> {
    /// The binary (or, for Kata itself, the install's VERSION file).
    pub path: &'a Path,
    /// The product advisories name it by.
    pub product: Product,
    /// Which of the product's advisories apply.
    pub filter: ComponentFilter,
    /// The upstream version, when known.
    pub version: Option<&'a str>,
    /// Where the upstream version came from, for evidence.
    pub version_from: String,
    /// The distro package owning the binary.
    pub package: Option<&'a PackageRef>,
    /// Kata configurations that name this binary.
    pub used_by: &'a [PathBuf],
}

fn product_of(kind: HypervisorKind) -> Option<(Product, ComponentFilter)> {
    Some(match kind {
        HypervisorKind::Qemu => (Product::Qemu, ComponentFilter::All),
        HypervisorKind::Firecracker => (Product::Firecracker, ComponentFilter::Except("jailer")),
        HypervisorKind::Jailer => (Product::Firecracker, ComponentFilter::Only("jailer")),
        HypervisorKind::CloudHypervisor => (Product::CloudHypervisor, ComponentFilter::All),
        HypervisorKind::StratoVirt => (Product::StratoVirt, ComponentFilter::All),
        HypervisorKind::Virtiofsd => (Product::Virtiofsd, ComponentFilter::All),
        // Dragonball is built into the runtime-rs shim: Kata's own advisories cover it.
        HypervisorKind::Dragonball => return None,
    })
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
            let (product, filter) = product_of(h.kind)?;
            Some(Target {
                path: &h.path,
                product,
                filter,
                version: h.version.as_deref(),
                version_from: describe_source(
                    h.version_source,
                    h.kata_release.as_deref(),
                    h.version_note.as_deref(),
                ),
                package: h.package.as_ref(),
                used_by: &h.used_by,
            })
        })
        .collect();
    match &snapshot.kata_install {
        Probe::Found { value: install } => out.push(Target {
            path: &install.path,
            product: Product::Kata,
            filter: ComponentFilter::All,
            version: Some(&install.version),
            version_from: format!("the Kata release ({})", install.path.display()),
            package: None,
            used_by: &[],
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
            filter: ComponentFilter::All,
            version: None,
            version_from: format!(
                "nowhere: the Kata release is unknown ({})",
                unreadable.unknown_reason().unwrap_or_default()
            ),
            package: None,
            used_by: &[],
        }),
    }
    out
}

/// Where the static Kata install records its release.
const KATA_VERSION_FILE: &str = "/opt/kata/VERSION";
