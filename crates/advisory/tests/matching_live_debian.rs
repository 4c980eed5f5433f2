//! The real Debian QEMU on this machine (`apt-get install qemu-system-x86`): none of the
//! CVEs its installed changelog lists as fixed is reported as vulnerable.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use hvguard_advisory::matching::{match_snapshot, DecisionStatus};
use hvguard_advisory::policy::Policy;
use hvguard_advisory::shipped_snapshot;
use hvguard_core::{HostRoot, PackageManager};

const QEMU: &str = "/usr/bin/qemu-system-x86_64";
const LIST: &str = "/var/lib/dpkg/info/qemu-system-x86.list";

#[test]
fn live_debian_qemu_backports_are_not_vulnerable() {
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
    let named: Vec<&str> = entries
        .iter()
        .flat_map(|e| e.cves.iter().map(String::as_str))
        .collect();
    assert!(named.len() > 100, "{}", named.len());
    let advisories = shipped_snapshot().unwrap();
    let outcome = match_snapshot(
        &snap,
        &advisories,
        &Policy::default(),
        jiff::civil::date(2026, 11, 27),
    );
    let mut backported = 0;
    for d in outcome
        .decisions
        .iter()
        .filter(|d| d.binary == Path::new(QEMU))
    {
        let adv = advisories.iter().find(|a| a.id == d.advisory).unwrap();
        if named.iter().any(|id| adv.is_known_as(id)) {
            assert_ne!(d.status, DecisionStatus::Vulnerable, "{d:?}");
            backported += 1;
        }
    }
    assert!(backported >= 10, "{backported}");
    for f in &outcome.findings {
        let id = &f.advisory.as_ref().unwrap().id;
        assert!(
            !named.contains(&id.as_str()),
            "{id} is fixed per the changelog"
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
    eprintln!("live Debian QEMU {QEMU}: {counts:?}");
}
