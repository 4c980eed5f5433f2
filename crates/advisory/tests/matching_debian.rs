//! The Debian case end to end: Debian 12's QEMU (`1:7.2+dfsg-7+deb12u18`, upstream 7.2.22)
//! with its real package changelog. CVEs the changelog names at or below the installed
//! version are fixed by backport; the others inside an upstream range are vulnerable, each
//! with its evidence.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use hvguard_advisory::matching::{match_snapshot, DecisionSource, DecisionStatus, MatchOutcome};
use hvguard_advisory::policy::Policy;
use hvguard_advisory::{
    shipped_snapshot, Advisory, Affected, DistroFix, DistroStatus, Product, Version, VersionScheme,
};
use hvguard_core::{HostRoot, Hypervisor, HypervisorKind, PackageRef, Snapshot, VersionSource};

const INSTALLED: &str = "1:7.2+dfsg-7+deb12u18";
const BINARY: &str = "/usr/bin/qemu-system-x86_64";

fn host(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/hosts")
        .join(name)
}

fn collect(name: &str) -> (HostRoot, Snapshot) {
    let root = HostRoot::new(host(name)).unwrap();
    let snap = hvguard_host::collect(&root, &hvguard_host::CollectOptions::default());
    (root, snap)
}

fn today() -> jiff::civil::Date {
    jiff::civil::date(2026, 11, 27)
}

/// CVEs the real changelog fixes at or below the installed source version, read
/// independently of the matcher (straight from the decompressed file): named in an entry,
/// and not reopened by a later entry at or below the installed version.
fn changelog_fixed_cves(root: &HostRoot) -> BTreeSet<String> {
    let path = Path::new("/usr/share/doc/qemu-system-x86/changelog.Debian.gz");
    let entries = hvguard_host::packages::changelog::read_changelog(root, path).unwrap();
    let installed = Version::parse(VersionScheme::Dpkg, INSTALLED).unwrap();
    let mut fixed = BTreeSet::new();
    for e in entries.iter().rev() {
        let v = Version::parse(VersionScheme::Dpkg, &e.version).unwrap();
        if v.compare(&installed) == Some(std::cmp::Ordering::Greater) {
            continue;
        }
        fixed.extend(e.cves.iter().cloned());
        for r in &e.reopens {
            fixed.remove(r);
        }
    }
    fixed
}

/// Every change item of the real changelog at or below the installed version, as written.
fn changelog_items(root: &HostRoot) -> Vec<String> {
    let path = Path::new("/usr/share/doc/qemu-system-x86/changelog.Debian.gz");
    let entries = hvguard_host::packages::changelog::read_changelog(root, path).unwrap();
    let installed = Version::parse(VersionScheme::Dpkg, INSTALLED).unwrap();
    entries
        .iter()
        .filter(|e| {
            Version::parse(VersionScheme::Dpkg, &e.version)
                .unwrap()
                .compare(&installed)
                != Some(std::cmp::Ordering::Greater)
        })
        .flat_map(|e| e.items.iter().map(|i| i.text.clone()))
        .collect()
}

/// What the upstream data says of 7.2.22: read leniently, else as SemVer (CNA ranges).
fn upstream_7_2_22(adv: &Advisory) -> Affected {
    let lenient = Version::parse(VersionScheme::Upstream, "7.2.22").unwrap();
    match adv.affects(&Product::Qemu, &lenient) {
        Affected::Unknown => {
            let semver = Version::parse(VersionScheme::Semver, "7.2.22").unwrap();
            adv.affects(&Product::Qemu, &semver)
        }
        decided => decided,
    }
}

/// The advisories about the QEMU system emulator (not qemu-img, qemu-ga, ...).
fn emulator_advisories(advisories: &[Advisory]) -> Vec<&Advisory> {
    advisories
        .iter()
        .filter(|a| a.products.iter().any(|p| p.product == Product::Qemu))
        .filter(|a| {
            hvguard_advisory::matching::concerned_binaries(a, &Product::Qemu)
                .contains(&HypervisorKind::Qemu)
        })
        .collect()
}

/// Checks the Debian verdicts for the binary at `BINARY`.
fn assert_debian_verdicts(
    outcome: &MatchOutcome,
    advisories: &[Advisory],
    fixed: &BTreeSet<String>,
    items: &[String],
) {
    let qemu: Vec<_> = outcome
        .decisions
        .iter()
        .filter(|d| d.binary == Path::new(BINARY))
        .collect();
    assert_eq!(
        qemu.len(),
        emulator_advisories(advisories).len(),
        "one decision per advisory about the emulator"
    );
    let mut backported_in_range = 0;
    let mut by_subject = BTreeSet::new();
    for d in &qemu {
        let adv = advisories.iter().find(|a| a.id == d.advisory).unwrap();
        let named = std::iter::once(&adv.id)
            .chain(adv.aliases.iter())
            .any(|id| fixed.contains(id));
        let subjects_listed = !adv.fix_subjects.is_empty()
            && adv.fix_subjects.iter().all(|s| {
                let want = hvguard_advisory::subject::normalize(s);
                items
                    .iter()
                    .any(|i| hvguard_advisory::subject::normalize(i) == want)
            });
        let upstream = upstream_7_2_22(adv);
        if named {
            assert_eq!(d.status, DecisionStatus::FixedByBackport, "{d:?}");
            let DecisionSource::Changelog { version, line, .. } = &d.source else {
                panic!("{d:?}")
            };
            assert!(*line > 0);
            assert!(
                d.evidence
                    .contains(&format!("entry {version} (line {line})")),
                "{d:?}"
            );
            if upstream == Affected::Yes {
                backported_in_range += 1;
            }
        } else if subjects_listed {
            assert_eq!(d.status, DecisionStatus::FixedByBackport, "{d:?}");
            assert!(
                matches!(d.source, DecisionSource::ChangelogSubject { .. }),
                "{d:?}"
            );
            by_subject.insert(d.advisory.clone());
        } else {
            match upstream {
                Affected::Yes => {
                    assert_eq!(d.status, DecisionStatus::Vulnerable, "{d:?}");
                    assert!(
                        d.evidence.starts_with(
                            "judged by upstream range: debian data silent for qemu in bookworm"
                        ),
                        "{}",
                        d.evidence
                    );
                    assert!(d.evidence.contains("7.2.22"), "{}", d.evidence);
                    assert!(
                        d.remediation
                            .starts_with("No fixed qemu package for bookworm is known"),
                        "{}",
                        d.remediation
                    );
                }
                Affected::No => assert_eq!(d.status, DecisionStatus::NotAffected, "{d:?}"),
                Affected::Unknown => assert_eq!(d.status, DecisionStatus::Unknown, "{d:?}"),
            }
        }
    }
    // The bookworm QEMU had 97 fixed-by-backport verdicts on the emulator before advisories
    // went to the binaries they concern: 91 stay on the emulator, 3 belong to the C
    // virtiofsd, 1 to the bridge helper, 1 to qemu-img, and the rejected CVE-2020-25707 is
    // dropped with a note. The changelog still decides every one of them.
    let by_changelog = qemu
        .iter()
        .filter(|d| matches!(d.source, DecisionSource::Changelog { .. }))
        .count();
    assert_eq!(by_changelog, 91, "{backported_in_range}");
    // CVE-2024-6505 and CVE-2024-8354 are fixed by commits the changelog lists without the id.
    assert!(by_subject.contains("CVE-2024-6505"), "{by_subject:?}");
    assert!(by_subject.contains("CVE-2024-8354"), "{by_subject:?}");
    // No changelog-fixed CVE is reported, and every finding is a vulnerable decision.
    for f in &outcome.findings {
        let a = f.advisory.as_ref().unwrap();
        assert!(
            !fixed.contains(&a.id),
            "{} reported although backported",
            a.id
        );
        assert_eq!(f.rule.as_str(), "advisory.vulnerable");
    }
    let vulnerable = qemu
        .iter()
        .filter(|d| d.status == DecisionStatus::Vulnerable)
        .count();
    let qemu_findings = outcome
        .findings
        .iter()
        .filter(|f| f.location.as_ref().unwrap().path == Path::new(BINARY))
        .count();
    assert_eq!(vulnerable, qemu_findings);
}

/// intel-problems carries Debian's qemu-system-x86 package, a binary with Debian's real
/// banner and the real changelog.
#[test]
fn debian_qemu_backports_are_not_vulnerable() {
    let (root, snap) = collect("intel-problems");
    let qemu = snap
        .hypervisors
        .iter()
        .find(|h| h.path == Path::new(BINARY))
        .unwrap();
    assert_eq!(qemu.version.as_deref(), Some("7.2.22"));
    assert_eq!(qemu.package.as_ref().unwrap().source_version, INSTALLED);
    assert!(snap.changelogs.contains_key("qemu-system-x86"));
    let fixed = changelog_fixed_cves(&root);
    assert!(fixed.contains("CVE-2024-3446"), "{fixed:?}");
    // 1:5.0-7 reopened CVE-2020-13253 and 1:5.0-8 fixed it again.
    assert!(fixed.contains("CVE-2020-13253"), "{fixed:?}");
    let advisories = shipped_snapshot().unwrap();
    let outcome = match_snapshot(&snap, &advisories, &Policy::default(), today());
    assert_debian_verdicts(&outcome, &advisories, &fixed, &changelog_items(&root));
    let d = outcome
        .decisions
        .iter()
        .find(|d| d.advisory == "CVE-2024-3446" && d.binary == Path::new(BINARY))
        .unwrap();
    assert_eq!(
        d.source.to_string(),
        "changelog entry 1:7.2+dfsg-7+deb12u6 line 451"
    );
}

/// The real Debian 12 capture has the QEMU packages and changelog but no binary: add the
/// binary as the capture's README describes it (`QEMU emulator version 7.2.22 (Debian
/// 1:7.2+dfsg-7+deb12u18+b3)`) and collect the changelog for it.
#[test]
fn the_real_debian12_capture() {
    let (root, mut snap) = collect("debian12-nested-pvm");
    assert!(snap.hypervisors.is_empty());
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
        used_by: Vec::new(),
        parent_dirs: Vec::new(),
        version_note: None,
        devices: None,
    });
    let changelogs =
        hvguard_host::packages::changelog::collect(&root, &snap.packages, &snap.hypervisors);
    assert!(changelogs.warnings.is_empty(), "{:?}", changelogs.warnings);
    // qemu-system-x86 and its siblings from the same source (qemu-system-common, ...); only
    // qemu-system-x86's doc folder is in the capture.
    assert_eq!(
        changelogs.entries.keys().collect::<Vec<_>>(),
        vec!["qemu-system-x86"]
    );
    snap.changelogs = changelogs.entries;
    // qemu-system-common is installed too: its bridge helper and C virtiofsd (as Debian 12
    // ships them under /usr/lib/qemu) get the advisories about them, judged by the same
    // changelog (a sibling package of the qemu source).
    let common = snap
        .packages
        .value()
        .unwrap()
        .iter()
        .find(|p| p.name == "qemu-system-common")
        .unwrap()
        .clone();
    for (path, kind, version) in [
        (
            "/usr/lib/qemu/virtiofsd",
            HypervisorKind::QemuVirtiofsd,
            "7.2.22",
        ),
        (
            "/usr/lib/qemu/qemu-bridge-helper",
            HypervisorKind::QemuBridgeHelper,
            "7.2",
        ),
    ] {
        snap.hypervisors.push(Hypervisor {
            kind,
            path: path.into(),
            version: Some(version.into()),
            version_source: Some(VersionSource::BinaryString),
            version_evidence: None,
            package: Some(PackageRef::from(&common)),
            kata_release: None,
            stat: None,
            used_by: Vec::new(),
            devices: None,
            parent_dirs: Vec::new(),
            version_note: None,
        });
    }
    let advisories = shipped_snapshot().unwrap();
    let outcome = match_snapshot(&snap, &advisories, &Policy::default(), today());
    let fixed = changelog_fixed_cves(&root);
    assert_debian_verdicts(&outcome, &advisories, &fixed, &changelog_items(&root));
    // Across the package's binaries: every shipped advisory the changelog names about a
    // present binary, plus the two fixed by commit subject.
    let backported: BTreeSet<&str> = outcome
        .decisions
        .iter()
        .filter(|d| d.status == DecisionStatus::FixedByBackport)
        .map(|d| d.advisory.as_str())
        .collect();
    let present = [
        HypervisorKind::Qemu,
        HypervisorKind::QemuVirtiofsd,
        HypervisorKind::QemuBridgeHelper,
    ];
    let mut expected: BTreeSet<&str> = advisories
        .iter()
        .filter(|a| a.products.iter().any(|p| p.product == Product::Qemu))
        .filter(|a| {
            hvguard_advisory::matching::concerned_binaries(a, &Product::Qemu)
                .iter()
                .any(|k| present.contains(k))
        })
        .filter(|a| {
            std::iter::once(&a.id)
                .chain(&a.aliases)
                .any(|id| fixed.contains(id))
        })
        .map(|a| a.id.as_str())
        .collect();
    expected.extend(["CVE-2024-6505", "CVE-2024-8354"]);
    assert_eq!(backported, expected);
    assert_eq!(backported.len(), 95 + 2);
}

fn with_fact(mut adv: Advisory, status: DistroStatus, fixed: Option<&str>) -> Advisory {
    adv.distro.push(DistroFix {
        distro: "debian".into(),
        release: "bookworm".into(),
        package: "qemu".into(),
        status,
        fixed_version: fixed.map(str::to_owned),
        urgency: None,
        changelog: None,
    });
    adv
}

/// Distro tracker facts decide before the changelog and the upstream range. The three
/// advisories are the real ones the changelog is silent about.
#[test]
fn debian_tracker_decides_in_dpkg_order() {
    let (_root, snap) = collect("intel-problems");
    let shipped = shipped_snapshot().unwrap();
    let get = |id: &str| shipped.iter().find(|a| a.id == id).unwrap().clone();
    let advisories = vec![
        // Fixed in an older bookworm update: u2 < u18 in dpkg order, though "u2" > "u1" as text.
        with_fact(
            get("CVE-2026-3842"),
            DistroStatus::Fixed,
            Some("1:7.2+dfsg-7+deb12u2"),
        ),
        // Fixed only in a later update.
        with_fact(
            get("CVE-2024-7730"),
            DistroStatus::Fixed,
            Some("1:7.2+dfsg-7+deb12u19"),
        ),
        with_fact(get("CVE-2023-40360"), DistroStatus::NotAffected, None),
        // An empty-range advisory the tracker marks open: vulnerable, decided by Debian.
        with_fact(get("CVE-2024-8612"), DistroStatus::Open, None),
        // Another release's fact is ignored: the range decides.
        {
            let mut a = get("CVE-2023-1386");
            a.distro.push(DistroFix {
                distro: "debian".into(),
                release: "trixie".into(),
                package: "qemu".into(),
                status: DistroStatus::Open,
                fixed_version: None,
                urgency: None,
                changelog: None,
            });
            a
        },
    ];
    let outcome = match_snapshot(&snap, &advisories, &Policy::default(), today());
    let status = |id: &str| {
        outcome
            .decisions
            .iter()
            .find(|d| d.advisory == id && d.binary == Path::new(BINARY))
            .unwrap()
    };
    let d = status("CVE-2026-3842");
    assert_eq!(d.status, DecisionStatus::FixedByBackport);
    assert_eq!(
        d.source.to_string(),
        "debian-tracker fixed_version 1:7.2+dfsg-7+deb12u2 for release bookworm"
    );
    let d = status("CVE-2024-7730");
    assert_eq!(d.status, DecisionStatus::Vulnerable);
    assert_eq!(d.fixed_in.as_deref(), Some("1:7.2+dfsg-7+deb12u19"));
    assert_eq!(status("CVE-2023-40360").status, DecisionStatus::NotAffected);
    assert_eq!(status("CVE-2024-8612").status, DecisionStatus::Vulnerable);
    assert_eq!(status("CVE-2023-1386").status, DecisionStatus::Unknown);
    let f = outcome
        .findings
        .iter()
        .find(|f| f.advisory.as_ref().unwrap().id == "CVE-2024-7730")
        .unwrap();
    assert_eq!(
        f.remediation,
        "Upgrade qemu-system-x86 to 1:7.2+dfsg-7+deb12u19 or later: debian bookworm ships the fix in qemu 1:7.2+dfsg-7+deb12u19."
    );
    let open = outcome
        .findings
        .iter()
        .find(|f| f.advisory.as_ref().unwrap().id == "CVE-2024-8612")
        .unwrap();
    assert!(
        open.remediation
            .starts_with("No fixed qemu package in bookworm yet"),
        "{}",
        open.remediation
    );
    assert!(f.evidence.contains("debian-tracker"), "{}", f.evidence);
    let ids: Vec<_> = outcome
        .findings
        .iter()
        .map(|f| f.advisory.as_ref().unwrap().id.as_str())
        .collect();
    assert_eq!(ids, vec!["CVE-2024-7730", "CVE-2024-8612"]);
}

/// A changelog fix stands before device presence (it is about the package as shipped), and a
/// device the binary does not build in overrides the tracker's "vulnerable" (the tracker
/// speaks for every binary of the package).
#[test]
fn device_presence_sits_between_the_distro_fixes_and_its_vulnerable() {
    let (_root, mut snap) = collect("intel-problems");
    let missing = [
        "virtio-sound-device",
        "virtio-sound-pci",
        "virtio-gpu-device",
    ];
    let qemu = snap
        .hypervisors
        .iter_mut()
        .find(|h| h.path == Path::new(BINARY))
        .unwrap();
    qemu.devices = Some(hvguard_core::DeviceInventory {
        source: format!(".rodata of {BINARY} (test inventory)"),
        anchors: vec!["virtio-blk-device".into(), "virtio-net-device".into()],
        anchors_found: true,
        present: hvguard_host::hypervisors::qom::TYPE_NAMES
            .iter()
            .filter(|n| !missing.contains(n))
            .map(|n| (*n).to_owned())
            .collect(),
        absent: missing.iter().map(|n| (*n).to_owned()).collect(),
    });
    let shipped = shipped_snapshot().unwrap();
    let get = |id: &str| shipped.iter().find(|a| a.id == id).unwrap().clone();
    let advisories = vec![
        with_fact(
            get("CVE-2024-7730"),
            DistroStatus::Fixed,
            Some("1:7.2+dfsg-7+deb12u19"),
        ),
        // virtio-gpu is one of three components: the other two are built in.
        get("CVE-2024-3446"),
    ];
    let outcome = match_snapshot(&snap, &advisories, &Policy::default(), today());
    let decision = |id: &str| {
        outcome
            .decisions
            .iter()
            .find(|d| d.advisory == id && d.binary == Path::new(BINARY))
            .unwrap()
    };
    let snd = decision("CVE-2024-7730");
    assert_eq!(snd.status, DecisionStatus::NotAffected, "{snd:?}");
    assert!(matches!(snd.source, DecisionSource::BinaryContents { .. }));
    assert!(
        snd.evidence
            .contains("the distro data alone says vulnerable (debian tracker: fixed in qemu 1:7.2+dfsg-7+deb12u19"),
        "{}",
        snd.evidence
    );
    let dma = decision("CVE-2024-3446");
    assert_eq!(dma.status, DecisionStatus::FixedByBackport, "{dma:?}");
    assert!(matches!(dma.source, DecisionSource::Changelog { .. }));
    assert!(outcome.findings.is_empty(), "{:?}", outcome.findings);
}
