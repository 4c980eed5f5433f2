//! `hypervisor.binary-modified` over hand-built integrity facts: packaged files, static
//! binaries against the baseline, and every way the check can be unknown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod kata_rules_support;

use hvguard_core::{
    BinaryDigest, DigestAlgorithm, IntegrityBaseline, ModifiedFile, PackageIntegrity,
    PackageManager, Probe, Severity, Snapshot,
};
use kata_rules_support::snapshot;
use std::path::PathBuf;

const RULE: &str = "hypervisor.binary-modified";

fn run(snap: &Snapshot) -> (Vec<hvguard_core::Finding>, Vec<String>) {
    let e = hvguard_audit::evaluate(snap);
    (
        e.findings
            .into_iter()
            .filter(|f| f.rule.as_str() == RULE)
            .collect(),
        e.unknown
            .into_iter()
            .filter(|u| u.rule.as_str() == RULE)
            .map(|u| u.reason)
            .collect(),
    )
}

fn package(modified: Vec<ModifiedFile>, unknown: Option<&str>) -> PackageIntegrity {
    PackageIntegrity {
        manager: PackageManager::Dpkg,
        package: "qemu-system-x86".into(),
        version: "1:7.2+dfsg-7+deb12u18+b3".into(),
        digests_path: "/var/lib/dpkg/info/qemu-system-x86.md5sums".into(),
        algorithm: DigestAlgorithm::Md5,
        checked: 4,
        modified,
        missing: vec![],
        unreadable: vec![],
        unknown: unknown.map(str::to_string),
    }
}

fn static_binary(sha: char, release: &str) -> BinaryDigest {
    BinaryDigest {
        path: PathBuf::from("/opt/kata/bin/firecracker"),
        sha256: sha.to_string().repeat(64),
        packaged: false,
        kata_release: Some(release.into()),
    }
}

fn baseline(binaries: Vec<BinaryDigest>) -> IntegrityBaseline {
    IntegrityBaseline {
        record: 7,
        approved_at: "2026-11-01T00:00:00Z".into(),
        kata_release: Some("3.20.0".into()),
        binaries,
    }
}

#[test]
fn a_modified_packaged_file_is_critical_with_its_record_line() {
    let mut snap = snapshot(vec![]);
    snap.integrity.packages = Probe::found(vec![package(
        vec![ModifiedFile {
            path: "/usr/bin/qemu-system-x86_64".into(),
            expected: "30d041a0b888e3be1b0aab0af8b4bb7c".into(),
            actual: "ffffffffffffffffffffffffffffffff".into(),
            line: 2,
        }],
        None,
    )]);
    let (findings, unknown) = run(&snap);
    assert!(unknown.is_empty(), "{unknown:?}");
    assert_eq!(findings.len(), 1);
    let f = &findings[0];
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(
        f.location.as_ref().unwrap().path,
        PathBuf::from("/usr/bin/qemu-system-x86_64")
    );
    assert!(
        f.evidence.contains("qemu-system-x86.md5sums:2"),
        "{}",
        f.evidence
    );
    assert!(f.evidence.contains("ffffffff"), "{}", f.evidence);
}

#[test]
fn unknown_is_never_a_pass() {
    // An older snapshot: nothing collected.
    let snap = snapshot(vec![]);
    let (findings, unknown) = run(&snap);
    assert!(findings.is_empty());
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    assert!(unknown[0].contains("older hvguard"), "{unknown:?}");
    // A package without a digest list.
    let mut snap = snapshot(vec![]);
    snap.integrity.packages = Probe::found(vec![package(vec![], Some("no digest list"))]);
    let (_, unknown) = run(&snap);
    assert_eq!(unknown, ["package qemu-system-x86: no digest list"]);
}

#[test]
fn static_binaries_are_judged_against_the_baseline() {
    let mut snap = snapshot(vec![]);
    snap.integrity.packages = Probe::found(vec![]);
    snap.integrity.binaries = vec![static_binary('b', "3.20.0")];
    // No baseline: unknown.
    let (findings, unknown) = run(&snap);
    assert!(findings.is_empty());
    assert!(unknown[0].contains("no approved baseline"), "{unknown:?}");
    // Same bytes as approved: clean.
    snap.integrity.baseline = Some(baseline(vec![static_binary('b', "3.20.0")]));
    assert_eq!(run(&snap), (vec![], vec![]));
    // Different bytes, same release: critical.
    snap.integrity.baseline = Some(baseline(vec![static_binary('a', "3.20.0")]));
    let (findings, _) = run(&snap);
    assert_eq!(findings.len(), 1);
    assert!(
        findings[0].message.contains("record 7"),
        "{}",
        findings[0].message
    );
    assert!(findings[0].evidence.contains(&"a".repeat(64)));
    // Different bytes after an update of the release: expected, no finding.
    snap.integrity.binaries = vec![static_binary('b', "3.21.0")];
    assert_eq!(run(&snap).0, vec![]);
}

#[test]
fn an_unowned_binary_is_not_static_when_ownership_is_unknown() {
    let mut snap = snapshot(vec![]);
    // The package database could not be read, and no Kata release vouches for the binary.
    snap.packages = Probe::unsupported("rpm database under --root is not read yet");
    snap.integrity.packages = Probe::unsupported("rpm");
    let mut b = static_binary('b', "x");
    b.kata_release = None;
    b.path = "/usr/libexec/qemu-kvm".into();
    snap.integrity.binaries = vec![b];
    let (findings, unknown) = run(&snap);
    assert!(findings.is_empty());
    assert!(
        !unknown.iter().any(|u| u.contains("baseline")),
        "{unknown:?}"
    );
}
