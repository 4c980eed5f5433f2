//! The static Kata install: binaries no package owns are judged by upstream ranges with the
//! version read from the binary or the Kata release table; Kata itself by its release.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use hvguard_advisory::matching::{
    concerned_binaries, match_snapshot, DecisionSource, DecisionStatus,
};
use hvguard_advisory::policy::Policy;
use hvguard_advisory::{shipped_snapshot, Affected, Product, Version, VersionScheme};
use hvguard_core::{HostRoot, HypervisorKind, Snapshot};

fn collect(name: &str) -> Snapshot {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/hosts")
        .join(name);
    let root = HostRoot::new(dir).unwrap();
    hvguard_host::collect(&root, &hvguard_host::CollectOptions::default())
}

fn today() -> jiff::civil::Date {
    jiff::civil::date(2026, 11, 27)
}

#[test]
fn static_qemu_is_judged_by_upstream_ranges() {
    let snap = collect("kata-static");
    let qemu_path = Path::new("/opt/kata/bin/qemu-system-x86_64");
    let qemu = snap
        .hypervisors
        .iter()
        .find(|h| h.path == qemu_path)
        .unwrap();
    assert!(qemu.package.is_none());
    let version = qemu.version.clone().unwrap();
    let advisories = shipped_snapshot().unwrap();
    let outcome = match_snapshot(&snap, &advisories, &Policy::default(), today());
    let parsed = Version::parse(VersionScheme::Upstream, &version).unwrap();
    let semver = Version::parse(VersionScheme::Semver, &version).unwrap();
    let mut vulnerable = 0;
    for adv in advisories
        .iter()
        .filter(|a| a.products.iter().any(|p| p.product == Product::Qemu))
        .filter(|a| concerned_binaries(a, &Product::Qemu).contains(&HypervisorKind::Qemu))
    {
        let d = outcome
            .decisions
            .iter()
            .find(|d| d.advisory == adv.id && d.binary == qemu_path)
            .unwrap();
        let verdict = match adv.affects(&Product::Qemu, &parsed) {
            Affected::Unknown => adv.affects(&Product::Qemu, &semver),
            decided => decided,
        };
        let expected = match verdict {
            Affected::Yes => DecisionStatus::Vulnerable,
            Affected::No => DecisionStatus::NotAffected,
            Affected::Unknown => DecisionStatus::Unknown,
        };
        assert_eq!(d.status, expected, "{d:?}");
        assert!(!d.evidence.contains("judged by upstream range: "), "{d:?}");
        if expected == DecisionStatus::Vulnerable {
            vulnerable += 1;
            let DecisionSource::UpstreamRange { version_from, .. } = &d.source else {
                panic!("{d:?}")
            };
            assert_eq!(version_from, "the binary's embedded version string");
            let f = outcome
                .findings
                .iter()
                .find(|f| {
                    f.advisory.as_ref().unwrap().id == adv.id
                        && f.location.as_ref().unwrap().path == qemu_path
                })
                .unwrap();
            assert!(f.evidence.contains(&version), "{}", f.evidence);
        }
    }
    assert!(vulnerable >= 3, "{vulnerable}");
    // CVE-2025-12464: introduced 8.1.0, fixed 10.1.3 => fixed_in and remediation name 10.1.3.
    let f = outcome
        .findings
        .iter()
        .find(|f| f.advisory.as_ref().unwrap().id == "CVE-2025-12464")
        .unwrap();
    assert_eq!(
        f.advisory.as_ref().unwrap().fixed_in.as_deref(),
        Some("10.1.3")
    );
    assert!(f.remediation.contains("10.1.3"), "{}", f.remediation);
}

#[test]
fn empty_range_is_an_unknown_decision_never_a_finding() {
    let snap = collect("kata-static");
    let advisories = shipped_snapshot().unwrap();
    let empty: Vec<_> = advisories
        .iter()
        .filter(|a| {
            a.products
                .iter()
                .any(|p| p.product == Product::Qemu && p.ranges.is_empty())
        })
        .collect();
    assert!(empty.len() >= 5, "{}", empty.len());
    let outcome = match_snapshot(&snap, &advisories, &Policy::default(), today());
    for adv in empty {
        let d = outcome
            .decisions
            .iter()
            .find(|d| d.advisory == adv.id && d.product == "qemu")
            .unwrap();
        assert_eq!(d.status, DecisionStatus::Unknown);
        assert_eq!(d.source, DecisionSource::None);
        assert!(outcome
            .findings
            .iter()
            .all(|f| f.advisory.as_ref().unwrap().id != adv.id));
    }
    assert!(outcome.unknown().count() >= 5);
    assert_eq!(
        outcome.counts().get(&DecisionStatus::Unknown).copied(),
        Some(outcome.unknown().count())
    );
}

#[test]
fn firecracker_jailer_and_kata_release() {
    let snap = collect("kata-static");
    let advisories = shipped_snapshot().unwrap();
    let outcome = match_snapshot(&snap, &advisories, &Policy::default(), today());
    // The Firecracker version comes from the Kata release table, and the evidence says so.
    let fc: Vec<_> = outcome
        .decisions
        .iter()
        .filter(|d| d.binary == Path::new("/opt/kata/bin/firecracker"))
        .collect();
    assert!(!fc.is_empty());
    for d in &fc {
        assert!(
            d.advisory != "CVE-2026-1386",
            "jailer advisory on the firecracker binary"
        );
        if let DecisionSource::UpstreamRange { version_from, .. } = &d.source {
            assert!(
                version_from.contains("Kata release table"),
                "{version_from}"
            );
        }
    }
    // The jailer binary gets exactly the jailer advisories.
    let jailer: Vec<_> = outcome
        .decisions
        .iter()
        .filter(|d| d.binary == Path::new("/opt/kata/bin/jailer"))
        .collect();
    assert_eq!(jailer.len(), 1);
    assert_eq!(jailer[0].advisory, "CVE-2026-1386");
    assert_eq!(jailer[0].status, DecisionStatus::Vulnerable);
    // Kata itself, by the release in /opt/kata/VERSION (3.20.0).
    let kata: Vec<_> = outcome
        .decisions
        .iter()
        .filter(|d| d.product == "kata-containers")
        .collect();
    let kata_advisories = advisories
        .iter()
        .filter(|a| a.products.iter().any(|p| p.product == Product::Kata))
        .count();
    assert_eq!(kata.len(), kata_advisories);
    let fixed_later = kata
        .iter()
        .find(|d| d.advisory == "CVE-2026-24054")
        .unwrap();
    assert_eq!(fixed_later.status, DecisionStatus::Vulnerable);
    assert_eq!(fixed_later.binary, Path::new("/opt/kata/VERSION"));
    assert!(fixed_later.evidence.contains("3.20.0"));
    let old = kata.iter().find(|d| d.advisory == "CVE-2020-2026").unwrap();
    assert_eq!(old.status, DecisionStatus::NotAffected);
}

#[test]
fn output_is_deterministic_and_sorted() {
    let snap = collect("kata-static");
    let advisories = shipped_snapshot().unwrap();
    let a = match_snapshot(&snap, &advisories, &Policy::default(), today());
    let mut reversed = advisories.clone();
    reversed.reverse();
    let b = match_snapshot(&snap, &reversed, &Policy::default(), today());
    assert_eq!(a, b);
    let keys: Vec<_> = a
        .decisions
        .iter()
        .map(|d| (d.binary.clone(), d.advisory.clone()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

/// Issue 11, item 7: a fact that feeds matching and cannot be read never makes advisories
/// disappear: an unreadable Kata release keeps every Kata advisory as an unknown decision,
/// and an unreadable package database or OS release is listed as an unknown fact.
#[test]
fn item7_unreadable_facts_feeding_matching_surface_as_unknown() {
    use hvguard_core::Probe;
    let advisories = shipped_snapshot().unwrap();
    let kata_ids: Vec<&str> = advisories
        .iter()
        .filter(|a| a.products.iter().any(|p| p.product == Product::Kata))
        .map(|a| a.id.as_str())
        .collect();
    assert!(!kata_ids.is_empty());

    let mut snap = collect("kata-static");
    snap.kata_install = Probe::unsupported("/opt/kata/VERSION: is a directory, expected a file");
    let outcome = match_snapshot(&snap, &advisories, &Policy::default(), today());
    for id in &kata_ids {
        let d = outcome
            .decisions
            .iter()
            .find(|d| d.advisory == *id && d.binary == Path::new("/opt/kata/VERSION"))
            .unwrap_or_else(|| panic!("{id} vanished"));
        assert_eq!(d.status, DecisionStatus::Unknown, "{d:?}");
        assert!(d.evidence.contains("is a directory"), "{}", d.evidence);
    }
    // Denied keeps the path it was denied on.
    snap.kata_install = Probe::denied("/opt/kata/VERSION");
    let outcome = match_snapshot(&snap, &advisories, &Policy::default(), today());
    assert_eq!(
        outcome
            .unknown()
            .filter(|d| d.binary == Path::new("/opt/kata/VERSION"))
            .count(),
        kata_ids.len()
    );
    // No Kata install at all: nothing of Kata's to judge, and nothing unknown about it.
    snap.kata_install = Probe::absent("/opt/kata/VERSION");
    let outcome = match_snapshot(&snap, &advisories, &Policy::default(), today());
    assert!(!outcome
        .decisions
        .iter()
        .any(|d| d.binary == Path::new("/opt/kata/VERSION")));
    assert!(
        outcome.unknown_facts.is_empty(),
        "{:?}",
        outcome.unknown_facts
    );

    let mut debian = collect("intel-problems");
    debian.packages = Probe::denied("/var/lib/dpkg/status");
    debian.host.os = Probe::denied("/etc/os-release");
    let outcome = match_snapshot(&debian, &advisories, &Policy::default(), today());
    assert_eq!(
        outcome.unknown_facts.len(),
        2,
        "{:?}",
        outcome.unknown_facts
    );
    assert!(outcome.unknown_facts[0].contains("package database could not be read"));
    assert!(outcome.unknown_facts[1].contains("OS release is unknown"));
    let mut debian = collect("intel-problems");
    debian.host.os = Probe::denied("/etc/os-release");
    let outcome = match_snapshot(&debian, &advisories, &Policy::default(), today());
    assert_eq!(
        outcome.unknown_facts.len(),
        1,
        "{:?}",
        outcome.unknown_facts
    );
    assert!(outcome.unknown_facts[0].contains("OS release is unknown"));
}
