//! Package-changelog evidence (what `hvguard update status` records from the changelog of the
//! version apt would install) as the matcher sees it: a CVE the installed changelog does not
//! name, fixed in a newer Debian version, is vulnerable with the changelog as its evidence —
//! also when no advisory record knows the CVE — and a tracker verdict still wins over it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use hvguard_advisory::matching::{match_snapshot, DecisionSource, DecisionStatus};
use hvguard_advisory::policy::Policy;
use hvguard_advisory::store::{
    apply_changelog_evidence, load_advisories, ChangelogEvidence, Store,
};
use hvguard_advisory::{shipped_snapshot, DistroFix, DistroStatus};
use hvguard_core::{HostRoot, Hypervisor, HypervisorKind, PackageRef, VersionSource};

const BINARY: &str = "/usr/bin/qemu-system-x86_64";

/// The real Debian 12 capture (packages and changelog, no binary) with its QEMU binary added
/// as the capture's README describes it, and the installed changelog collected for it.
fn snapshot() -> hvguard_core::Snapshot {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/hosts/debian12-nested-pvm");
    let root = HostRoot::new(dir).unwrap();
    let mut snap = hvguard_host::collect(&root, &hvguard_host::CollectOptions::default());
    let package = snap
        .packages
        .value()
        .unwrap()
        .iter()
        .find(|p| p.name == "qemu-system-x86")
        .unwrap();
    snap.hypervisors.push(Hypervisor {
        kind: HypervisorKind::Qemu,
        path: BINARY.into(),
        version: Some("7.2.22".into()),
        version_source: Some(VersionSource::BinaryString),
        version_evidence: Some(
            "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)".into(),
        ),
        package: Some(PackageRef::from(package)),
        kata_release: None,
        stat: None,
        parent_dirs: vec![],
        version_note: None,
        used_by: Vec::new(),
        devices: None,
    });
    snap.changelogs =
        hvguard_host::packages::changelog::collect(&root, &snap.packages, &snap.hypervisors)
            .entries;
    snap
}

/// Evidence as read from a (future) `1:7.2+dfsg-7+deb12u19` candidate.
fn evidence(cve: &str) -> ChangelogEvidence {
    ChangelogEvidence {
        cve: cve.into(),
        distro: "debian".into(),
        release: "bookworm".into(),
        source_package: "qemu".into(),
        fixed_version: "1:7.2+dfsg-7+deb12u19".into(),
        read_from_package: "qemu-system-x86".into(),
        read_from_version: "1:7.2+dfsg-7+deb12u19".into(),
        line: 1,
    }
}

#[test]
fn newer_changelog_evidence_makes_the_installed_package_vulnerable() {
    let snapshot = snapshot();
    let today = jiff::civil::date(2026, 11, 27);
    let mut advisories = shipped_snapshot().unwrap();
    // CVE-2026-3842's upstream range says 7.2.22 is vulnerable, CVE-2023-1386 has no upstream
    // range at all (unknown), and CVE-2099-0001 is known nowhere. (CVE-2023-0664, which this
    // test used before advisories named their binaries, concerns qemu-ga only.)
    let before = match_snapshot(&snapshot, &advisories, &Policy::default(), today);
    let decided = |o: &hvguard_advisory::matching::MatchOutcome, id: &str| {
        o.decisions
            .iter()
            .find(|d| d.advisory == id && d.binary == std::path::Path::new(BINARY))
            .cloned()
    };
    assert!(decided(&before, "CVE-2099-0001").is_none());
    let added = apply_changelog_evidence(
        &mut advisories,
        &[
            evidence("CVE-2099-0001"),
            evidence("CVE-2026-3842"),
            evidence("CVE-2023-1386"),
        ],
    );
    assert_eq!(added, 1);
    let after = match_snapshot(&snapshot, &advisories, &Policy::default(), today);
    for id in ["CVE-2099-0001", "CVE-2026-3842", "CVE-2023-1386"] {
        let d = decided(&after, id).unwrap();
        assert_eq!(d.status, DecisionStatus::Vulnerable, "{d:?}");
        assert!(
            matches!(d.source, DecisionSource::Changelog { .. }),
            "{d:?}"
        );
        assert!(
            d.evidence
                .contains("changelog.Debian.gz of qemu-system-x86 1:7.2+dfsg-7+deb12u19"),
            "{}",
            d.evidence
        );
        assert_eq!(d.fixed_in.as_deref(), Some("1:7.2+dfsg-7+deb12u19"));
    }
    let f = after
        .findings
        .iter()
        .find(|f| f.advisory.as_ref().unwrap().id == "CVE-2099-0001")
        .unwrap();
    assert!(
        f.remediation.contains("hvguard update"),
        "{}",
        f.remediation
    );

    // A tracker verdict for the same release and source wins over the changelog reading.
    let mut tracked = shipped_snapshot().unwrap();
    let adv = tracked
        .iter_mut()
        .find(|a| a.id == "CVE-2026-3842")
        .unwrap();
    adv.distro.push(DistroFix {
        distro: "debian".into(),
        release: "bookworm".into(),
        package: "qemu".into(),
        status: DistroStatus::NotAffected,
        fixed_version: None,
        urgency: None,
        changelog: None,
    });
    apply_changelog_evidence(&mut tracked, &[evidence("CVE-2026-3842")]);
    let o = match_snapshot(&snapshot, &tracked, &Policy::default(), today);
    assert_eq!(
        decided(&o, "CVE-2026-3842").unwrap().status,
        DecisionStatus::NotAffected
    );
}

/// The candidate's changelog is distro data: a device the binary does not build in still
/// makes it not affected (the changelog speaks for every binary of the package), and an
/// advisory about another binary of the source (qemu-ga) is not judged on the emulator.
#[test]
fn device_presence_and_binaries_still_decide_over_candidate_evidence() {
    let mut snapshot = snapshot();
    let mut advisories = shipped_snapshot().unwrap();
    let sound = advisories.iter().find(|a| a.id == "CVE-2024-7730").unwrap();
    let names = hvguard_advisory::matching::device_names(sound)
        .into_iter()
        .map(str::to_owned)
        .collect::<std::collections::BTreeSet<String>>();
    assert!(!names.is_empty());
    let qemu = snapshot
        .hypervisors
        .iter_mut()
        .find(|h| h.path == std::path::Path::new(BINARY))
        .unwrap();
    qemu.devices = Some(hvguard_core::DeviceInventory {
        source: format!(".rodata of {BINARY}"),
        anchors: vec!["virtio-blk-device".into(), "virtio-net-device".into()],
        anchors_found: true,
        present: Default::default(),
        absent: names,
    });
    apply_changelog_evidence(
        &mut advisories,
        &[evidence("CVE-2024-7730"), evidence("CVE-2023-0664")],
    );
    let o = match_snapshot(
        &snapshot,
        &advisories,
        &Policy::default(),
        jiff::civil::date(2026, 11, 27),
    );
    let on_emulator = |id: &str| {
        o.decisions
            .iter()
            .find(|d| d.advisory == id && d.binary == std::path::Path::new(BINARY))
    };
    let d = on_emulator("CVE-2024-7730").unwrap();
    assert_eq!(d.status, DecisionStatus::NotAffected, "{d:?}");
    assert!(
        matches!(d.source, DecisionSource::BinaryContents { .. }),
        "{d:?}"
    );
    assert!(
        d.evidence.contains("the distro data alone says vulnerable")
            && d.evidence
                .contains("the version the package manager offers"),
        "{}",
        d.evidence
    );
    assert!(on_emulator("CVE-2023-0664").is_none());
}

#[test]
fn a_store_holding_only_evidence_still_uses_the_shipped_advisories() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("advisories.db");
    let mut store = Store::open_or_create(&path).unwrap();
    store
        .record_changelog_evidence(&[evidence("CVE-2099-0001")], "2026-11-27T00:00:00Z")
        .unwrap();
    drop(store);
    let (advisories, _) = load_advisories(&path).unwrap();
    assert!(advisories.len() > 100, "the shipped snapshot is used");
    assert!(advisories.iter().any(|a| a.id == "CVE-2099-0001"));
}
