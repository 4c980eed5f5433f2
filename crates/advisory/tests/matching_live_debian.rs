//! The real Debian QEMU on this machine (`apt-get install qemu-system-x86`): none of the
//! CVEs its installed changelog lists as fixed is reported as vulnerable, the virtio-snd
//! CVE-2024-7730 is not reported against a 7.2 emulator that has no such device, and the
//! Windows guest-agent CVE-2023-0664 is not reported against the emulator at all.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;

use hvguard_advisory::matching::{
    concerned_binaries, match_snapshot, DecisionSource, DecisionStatus,
};
use hvguard_advisory::policy::Policy;
use hvguard_advisory::{shipped_snapshot, Product};
use hvguard_core::{HostRoot, PackageManager};

const QEMU: &str = "/usr/bin/qemu-system-x86_64";
const LIST: &str = "/var/lib/dpkg/info/qemu-system-x86.list";

#[test]
fn live_debian_qemu_backports_devices_and_platforms() {
    hvguard_testkit::require!(
        Path::new(QEMU).is_file() && Path::new(LIST).is_file(),
        "Debian's qemu-system-x86 (/usr/bin/qemu-system-x86_64 and its dpkg file list)",
        "apt-get install qemu-system-x86; .ci/run installs it"
    );
    let root = HostRoot::live();
    let snap = hvguard_host::collect(&root, &hvguard_host::CollectOptions::default());
    let qemu = snap
        .hypervisors
        .iter()
        .find(|h| h.path == Path::new(QEMU))
        .expect("the live QEMU is discovered");
    let package = qemu.package.as_ref().expect("owned by a dpkg package");
    assert_eq!(package.manager, PackageManager::Dpkg);
    let entries = snap
        .changelogs
        .get(&package.name)
        .expect("the installed changelog was collected");
    let named: BTreeSet<&str> = entries
        .iter()
        .flat_map(|e| e.cves.iter().map(String::as_str))
        .collect();
    assert!(named.len() > 50, "{}", named.len());
    let advisories = shipped_snapshot().unwrap();
    let outcome = match_snapshot(
        &snap,
        &advisories,
        &Policy::default(),
        jiff::civil::date(2026, 11, 27),
    );
    // Nothing the changelog names is vulnerable, on any binary of the package's source.
    let qemu_source: Vec<&Path> = snap
        .hypervisors
        .iter()
        .filter(|h| h.package.as_ref().is_some_and(|p| p.source == "qemu"))
        .map(|h| h.path.as_path())
        .collect();
    let mut backported: BTreeSet<&str> = BTreeSet::new();
    for d in outcome
        .decisions
        .iter()
        .filter(|d| qemu_source.contains(&d.binary.as_path()))
    {
        let adv = advisories.iter().find(|a| a.id == d.advisory).unwrap();
        if named.iter().any(|id| adv.is_known_as(id)) {
            assert_ne!(d.status, DecisionStatus::Vulnerable, "{d:?}");
        }
        // A device the binary does not register is decided before the changelog.
        let not_built_in = d.status == DecisionStatus::NotAffected
            && matches!(d.source, DecisionSource::BinaryContents { .. });
        if d.status == DecisionStatus::FixedByBackport || not_built_in {
            backported.insert(d.advisory.as_str());
        }
    }
    // Every shipped advisory the changelog names, about a binary that is installed, is
    // fixed by backport there, or its device is not built in (some entries name CVEs the
    // shipped data does not hold).
    let installed: Vec<_> = snap
        .hypervisors
        .iter()
        .filter(|h| qemu_source.contains(&h.path.as_path()))
        .map(|h| h.kind)
        .collect();
    for adv in advisories
        .iter()
        .filter(|a| a.products.iter().any(|p| p.product == Product::Qemu))
        .filter(|a| named.iter().any(|id| a.is_known_as(id)))
        .filter(|a| {
            concerned_binaries(a, &Product::Qemu)
                .iter()
                .any(|k| installed.contains(k))
        })
    {
        assert!(backported.contains(adv.id.as_str()), "{}", adv.id);
    }
    assert!(backported.len() >= 50, "{}", backported.len());
    // CVE-2024-7730 (virtio-snd, QEMU 8.2+) and CVE-2023-0664 (the Windows guest agent) are
    // not reported against the emulator.
    for f in &outcome.findings {
        let id = &f.advisory.as_ref().unwrap().id;
        assert!(
            !named.contains(id.as_str()),
            "{id} is fixed per the changelog"
        );
        let on_emulator = f.location.as_ref().unwrap().path == Path::new(QEMU)
            || f.advisory
                .as_ref()
                .unwrap()
                .binaries
                .iter()
                .any(|b| b == Path::new(QEMU));
        assert!(
            !(on_emulator && (id == "CVE-2024-7730" || id == "CVE-2023-0664")),
            "{id} reported against {QEMU}"
        );
    }
    let decision = |id: &str| {
        outcome
            .decisions
            .iter()
            .find(|d| d.advisory == id && d.binary == Path::new(QEMU))
    };
    assert!(decision("CVE-2023-0664").is_none());
    if qemu
        .version
        .as_deref()
        .is_some_and(|v| v.starts_with("7.2."))
    {
        let snd = decision("CVE-2024-7730").unwrap();
        assert_eq!(snd.status, DecisionStatus::NotAffected, "{snd:?}");
        assert!(
            matches!(snd.source, DecisionSource::BinaryContents { .. }),
            "{snd:?}"
        );
    }
    let mut counts = std::collections::BTreeMap::new();
    for d in outcome
        .decisions
        .iter()
        .filter(|d| d.binary == Path::new(QEMU))
    {
        *counts.entry(d.status).or_insert(0) += 1;
    }
    eprintln!(
        "live Debian QEMU {QEMU} {}: {counts:?}; fixed by backport across the package's binaries: {}",
        package.source_version,
        backported.len()
    );
}
