//! The components an update can change: the packages owning the hypervisor binaries that
//! `scan` inventories (grouped by source package, since Debian requires every binary
//! package of a source to move together), and the static Kata install.

use std::collections::BTreeMap;
use std::path::PathBuf;

use hvguard_advisory::policy::UpdatePolicy;
use hvguard_advisory::{Version, VersionScheme};
use hvguard_core::{HypervisorKind, PackageManager, Snapshot};
use serde::Serialize;

use crate::apt::Apt;
use crate::UpdateError;

/// One installed binary package of a component and where it would go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackagePlan {
    pub name: String,
    pub installed: String,
    /// What the package manager would install; `None` when it offers nothing.
    pub candidate: Option<String>,
    /// On the policy's hold list: never touched.
    pub held: bool,
}

impl PackagePlan {
    /// True when the candidate is newer than the installed version and the package is not held.
    pub fn changes(&self) -> bool {
        !self.held
            && self
                .candidate
                .as_deref()
                .is_some_and(|c| newer(c, &self.installed))
    }
}

/// `a` is newer than `b` in dpkg's ordering.
pub fn newer(a: &str, b: &str) -> bool {
    match (
        Version::parse(VersionScheme::Dpkg, a),
        Version::parse(VersionScheme::Dpkg, b),
    ) {
        (Ok(a), Ok(b)) => a.compare(&b) == Some(std::cmp::Ordering::Greater),
        _ => false,
    }
}

/// A packaged hypervisor component: the package owning a binary, and its source's siblings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Packaged {
    pub kind: HypervisorKind,
    pub manager: PackageManager,
    /// The package owning the first binary (`qemu-system-x86`).
    pub package: String,
    /// The source package (`qemu`).
    pub source: String,
    /// The owning package's installed version and its source version.
    pub installed: String,
    pub installed_source: String,
    /// The owning package's candidate.
    pub candidate: Option<String>,
    /// The hypervisor binaries it owns.
    pub paths: Vec<PathBuf>,
    /// Every installed binary package built from the same source.
    pub packages: Vec<PackagePlan>,
    /// Why nothing can be done, when that is so (held, rpm, not in any archive).
    pub note: Option<String>,
}

impl Packaged {
    /// `(package, candidate)` for every package the update would change.
    pub fn pins(&self) -> Vec<(String, String)> {
        self.packages
            .iter()
            .filter(|p| p.changes())
            .filter_map(|p| Some((p.name.clone(), p.candidate.clone()?)))
            .collect()
    }

    /// `(package, installed)` for the same packages: what a rollback must restore.
    pub fn installed_pins(&self) -> Vec<(String, String)> {
        self.packages
            .iter()
            .filter(|p| p.changes())
            .map(|p| (p.name.clone(), p.installed.clone()))
            .collect()
    }

    /// The owning package has a newer candidate and is not held.
    pub fn has_update(&self) -> bool {
        self.packages
            .iter()
            .any(|p| p.name == self.package && p.changes())
    }
}

/// QEMU's programs other than the system emulator (qemu-img, qemu-nbd, qemu-storage-daemon,
/// the guest agent, the bridge helper, the C virtiofsd).
fn is_tool(kind: HypervisorKind) -> bool {
    kind.is_qemu_program() && kind != HypervisorKind::Qemu
}

/// The packaged components of `snapshot`, with candidates from apt for dpkg hosts.
pub fn packaged(
    snapshot: &Snapshot,
    apt: &Apt,
    policy: &UpdatePolicy,
) -> Result<Vec<Packaged>, UpdateError> {
    let installed = snapshot.packages.value().map_or(&[][..], Vec::as_slice);
    let mut by_source: BTreeMap<(PackageManager, String), Packaged> = BTreeMap::new();
    for h in &snapshot.hypervisors {
        let Some(p) = &h.package else { continue };
        let entry = by_source
            .entry((p.manager, p.source.clone()))
            .or_insert_with(|| Packaged {
                kind: h.kind,
                manager: p.manager,
                package: p.name.clone(),
                source: p.source.clone(),
                installed: p.version.clone(),
                installed_source: p.source_version.clone(),
                candidate: None,
                paths: Vec::new(),
                packages: installed
                    .iter()
                    .filter(|i| i.manager == p.manager && i.source_name == p.source)
                    .map(|i| PackagePlan {
                        name: i.name.clone(),
                        installed: i.version.clone(),
                        candidate: None,
                        held: policy.holds(&i.name),
                    })
                    .collect(),
                note: None,
            });
        // The component is named after its main program (the system emulator), not a tool
        // of the same source found first (`/usr/bin/qemu-storage-daemon`): the candidate's
        // banner, changelog and start gate are read for that program.
        if is_tool(entry.kind) && !is_tool(h.kind) {
            entry.kind = h.kind;
            entry.package = p.name.clone();
            entry.installed = p.version.clone();
            entry.installed_source = p.source_version.clone();
        }
        entry.paths.push(h.path.clone());
    }
    let mut out: Vec<Packaged> = by_source.into_values().collect();
    for component in &mut out {
        component.paths.sort();
        component.paths.dedup();
        match component.manager {
            PackageManager::Rpm => {
                component.note = Some(
                    "rpm: status only; candidates and updates through dnf are not implemented yet"
                        .into(),
                );
            }
            PackageManager::Dpkg => {
                let names: Vec<&str> = component.packages.iter().map(|p| p.name.as_str()).collect();
                let policies = apt.policy(&names)?;
                for plan in &mut component.packages {
                    plan.candidate = policies.get(&plan.name).and_then(|p| p.candidate.clone());
                }
                component.candidate = component
                    .packages
                    .iter()
                    .find(|p| p.name == component.package)
                    .and_then(|p| p.candidate.clone());
                if policy.holds(&component.package) {
                    component.note = Some(format!(
                        "{} is on the policy's hold list: never updated by hvguard",
                        component.package
                    ));
                } else if component.candidate.is_none() {
                    component.note =
                        Some("no archive apt knows offers this package (no candidate)".into());
                }
            }
        }
    }
    Ok(out)
}

/// The static Kata install and the newest release the release table knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KataStatic {
    pub installed: String,
    /// Releases newer than the installed one, oldest first.
    pub newer: Vec<String>,
}

/// The static Kata component, when `/opt/kata/VERSION` names a release.
pub fn kata_static(snapshot: &Snapshot) -> Option<KataStatic> {
    let install = snapshot.kata_install.value()?;
    let table = hvguard_host::hypervisors::kata_versions::KataVersions::bundled().ok()?;
    let installed = Version::parse(VersionScheme::Upstream, &install.version).ok()?;
    let mut newer: Vec<(Version, String)> = table
        .releases
        .keys()
        .filter_map(|r| {
            let v = Version::parse(VersionScheme::Upstream, r).ok()?;
            (v.compare(&installed) == Some(std::cmp::Ordering::Greater)).then(|| (v, r.clone()))
        })
        .collect();
    newer.sort_by(|a, b| a.0.compare(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    Some(KataStatic {
        installed: install.version.clone(),
        newer: newer.into_iter().map(|(_, r)| r).collect(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_ordering_decides_newer() {
        assert!(newer("1:7.2+dfsg-7+deb12u18+b3", "1:7.2+dfsg-7+deb12u15"));
        assert!(!newer("1:7.2+dfsg-7+deb12u15", "1:7.2+dfsg-7+deb12u15"));
        assert!(newer("1:7.2+dfsg-7+deb12u18", "1:7.2+dfsg-7+deb12u15"));
        assert!(!newer("not a version!", "1"));
        let plan = PackagePlan {
            name: "qemu-system-data".into(),
            installed: "1:7.2+dfsg-7+deb12u15".into(),
            candidate: Some("1:7.2+dfsg-7+deb12u18".into()),
            held: false,
        };
        assert!(plan.changes());
        assert!(!PackagePlan { held: true, ..plan }.changes());
    }
}
