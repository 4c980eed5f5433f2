//! The decision for one (advisory, target), in this order (docs/advisory-matching.md):
//! 1. the advisory's platform (a Windows-only issue does not exist on a Linux host);
//! 2. for a packaged binary, the distro tracker's and the package changelog's "fixed" or
//!    "not affected";
//! 3. the binary's contents (a device whose QEMU type names the binary does not register is
//!    not built in), which also overrides a distro "vulnerable" for that binary;
//! 4. the distro's "vulnerable";
//! 5. the upstream data (ranges, named versions, stable-branch and mainline fixes).

use std::collections::BTreeMap;
use std::rc::Rc;

use hvguard_core::Snapshot;

use super::distro::{by_distro, Distro, PackageFacts};
use super::target::{concerns, Target};
use super::upstream::by_upstream;
use super::{remedy, Decision, DecisionSource, DecisionStatus};
use crate::relevance::taxonomy::{spec, Class};
use crate::{Advisory, Platform, Version, VersionScheme};

/// A target with its versions parsed, ready to be judged against many advisories.
#[derive(Debug)]
pub struct Prepared<'a> {
    /// The target.
    pub target: Target<'a>,
    /// The upstream version in the product's canonical numbering, leniently parsed.
    pub upstream: Option<Version>,
    /// The same as SemVer, for advisories whose ranges are SemVer.
    pub semver: Option<Version>,
    /// The canonical version text (`9.0.0-rc0` for QEMU's `8.2.90`).
    pub canonical: Option<String>,
    /// The owning package, if any (shared by the targets of one package).
    pub package: Option<Rc<PackageFacts<'a>>>,
}

impl<'a> Prepared<'a> {
    /// Parses the target's versions and indexes its package's changelog, once per package:
    /// `packages` holds the facts of the packages already seen.
    pub fn new(
        snapshot: &'a Snapshot,
        target: Target<'a>,
        packages: &mut BTreeMap<(&'a str, &'a str), Rc<PackageFacts<'a>>>,
    ) -> Self {
        let canonical = target
            .version
            .map(|v| target.product.canonical_version(v).into_owned());
        let upstream = canonical
            .as_deref()
            .and_then(|v| Version::parse(VersionScheme::Upstream, v).ok());
        let semver = canonical
            .as_deref()
            .and_then(|v| Version::parse(VersionScheme::Semver, v).ok());
        let package = target.package.map(|p| {
            packages
                .entry((p.name.as_str(), p.source_version.as_str()))
                .or_insert_with(|| Rc::new(PackageFacts::new(snapshot, p)))
                .clone()
        });
        Prepared {
            target,
            upstream,
            semver,
            canonical,
            package,
        }
    }
}

fn installed_text(prepared: &Prepared<'_>) -> String {
    let upstream = prepared.target.version.unwrap_or("unknown");
    match prepared.target.package {
        Some(p) => format!(
            "{upstream} (package {} {}, source {} {})",
            p.name, p.version, p.source, p.source_version
        ),
        None => upstream.to_owned(),
    }
}

/// Judges `advisory` for `prepared`; `None` when the advisory is not about the target's
/// product or binary.
pub fn decide(
    advisory: &Advisory,
    prepared: &Prepared<'_>,
    distro: &Distro<'_>,
) -> Option<Decision> {
    let target = &prepared.target;
    if !concerns(advisory, target) {
        return None;
    }
    let base = Decision {
        advisory: advisory.id.clone(),
        binary: target.path.to_path_buf(),
        product: target.product.name(),
        installed: installed_text(prepared),
        status: DecisionStatus::Unknown,
        source: DecisionSource::None,
        evidence: String::new(),
        fixed_in: None,
        package: target.package.map(|p| p.name.clone()),
        remediation: String::new(),
    };
    let by_package = || {
        prepared
            .package
            .as_ref()
            .and_then(|facts| by_distro(advisory, facts, distro, &base))
    };
    let mut decision = if let Some(d) = by_platform(advisory, &base) {
        d
    } else {
        // The distro's "fixed" or "not affected" stands first: it is about the package as
        // shipped. A binary that does not build the device in is not affected even when the
        // distro still lists the package as vulnerable (a tracker speaks for every binary of
        // the package, `qemu-system-x86_64-microvm` included).
        match by_package() {
            Some(d) if d.status != DecisionStatus::Vulnerable => d,
            distro_says => match by_contents(advisory, target, &base) {
                Some(mut d) => {
                    if let Some(v) = distro_says {
                        d.evidence.push_str(&format!(
                            "; the distro data alone says vulnerable ({})",
                            v.evidence
                        ));
                    }
                    d
                }
                None => match distro_says {
                    Some(d) => d,
                    None => by_upstream(advisory, prepared, distro, base),
                },
            },
        }
    };
    if matches!(
        decision.status,
        DecisionStatus::Vulnerable | DecisionStatus::Unknown
    ) {
        decision.remediation = remedy::text(advisory, &decision, prepared, distro);
    }
    Some(decision)
}

/// An advisory limited to other operating systems does not concern a Linux host.
fn by_platform(advisory: &Advisory, base: &Decision) -> Option<Decision> {
    if advisory.platforms.is_empty() || advisory.platforms.contains(&Platform::Linux) {
        return None;
    }
    let names: Vec<&str> = advisory.platforms.iter().map(|p| p.as_str()).collect();
    let mut d = base.clone();
    d.status = DecisionStatus::NotAffected;
    d.source = DecisionSource::Platform {
        platforms: names.iter().map(|s| (*s).to_owned()).collect(),
    };
    d.evidence = format!(
        "{} concerns {} only (its affected configuration requires that platform); hvguard scans Linux hosts",
        advisory.id,
        names.join(", ")
    );
    Some(d)
}

/// The QEMU type names whose absence shows the advisory's code is not in a binary: its
/// `devices`, else those of its components when every component is a device the taxonomy
/// knows the type names of. Empty when presence cannot be decided from type names.
pub fn device_names(advisory: &Advisory) -> Vec<&str> {
    if !advisory.devices.is_empty() {
        return advisory.devices.iter().map(String::as_str).collect();
    }
    let mut names = Vec::new();
    for component in advisory.component_list() {
        match spec(component) {
            Some(s) if s.class == Class::Device && !s.qom.is_empty() => names.extend(s.qom),
            _ => return Vec::new(),
        }
    }
    names
}

/// A QEMU binary that registers none of the advisory's device type names (with its anchors
/// found) does not contain the device.
fn by_contents(advisory: &Advisory, target: &Target<'_>, base: &Decision) -> Option<Decision> {
    let inventory = target.devices?;
    if !inventory.anchors_found {
        return None;
    }
    let names = device_names(advisory);
    if names.is_empty()
        || names.iter().any(|n| inventory.present.contains(*n))
        || !names.iter().all(|n| inventory.absent.contains(*n))
    {
        return None;
    }
    let mut d = base.clone();
    d.status = DecisionStatus::NotAffected;
    d.source = DecisionSource::BinaryContents {
        missing: names.iter().map(|n| (*n).to_owned()).collect(),
        read_from: inventory.source.clone(),
    };
    d.evidence = format!(
        "device not built in: the binary registers none of the QEMU type names {} ({}; the anchors {} were found, so the names were readable)",
        names.join(", "),
        inventory.source,
        inventory.anchors.join(", ")
    );
    Some(d)
}
