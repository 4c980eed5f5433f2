//! Each hypervisor's advisory record on the shipped snapshot, against counts made by hand.
//!
//! How the counts were made (crates/advisory/data/hypervisor-advisories.json, 150 records):
//! - per product: the records whose `"product"` is `qemu` (126), `firecracker` (5),
//!   `cloud-hypervisor` (3) or `stratovirt` (0), plus the `kata-containers` records whose
//!   `"hypervisors"` list names the hypervisor (CVE-2020-2025 and CVE-2026-24834, both
//!   `cloud-hypervisor`: `jq '.advisories[] | select(.hypervisors) | .id, .hypervisors'`);
//! - years from `"published"`, severities from `"cvss_v3_score"` in the CVSS bands (>= 9
//!   critical, >= 7 high, >= 4 medium, else low; null: unrated), kinds from `"kind"`;
//! - VM-escape class: `"kind": "vm-escape"` (QEMU 36) minus the records whose every component
//!   is a host-side tool: CVE-2019-14378 and CVE-2019-15890 (`slirp`) and CVE-2020-1711
//!   (`block-iscsi`) = 33; of those, 17 published after 2021-11-29 (the last five years
//!   before the test's day);
//! - KEV: no shipped record has a `"kev"` entry;
//! - days to fix, only where every fixed version has a date in data/hypervisors.toml: QEMU
//!   CVE-2025-12464 (published 2025-10-31, one range fixed in 10.1.3, announced 2025-12-07:
//!   37 days) is the only QEMU record whose fixed versions are all dated stable releases;
//!   Firecracker CVE-2020-27174 (0.21.3/0.22.1 of 2020-10-14, published 2020-10-16: 0) and
//!   CVE-2026-1386 (1.13.2/1.14.1 of 2026-01-19, published 2026-01-23: 0); Cloud Hypervisor
//!   CVE-2026-27211 (50.1 of 2026-02-20, published 2026-02-21: 0), CVE-2026-45782 (51.2 of
//!   2026-05-14, published 2026-06-10: 0), and the Kata-scoped CVE-2020-2025 (1.11.0 of
//!   2020-05-08, published 2020-05-19: 0) and CVE-2026-24834 (3.27.0 of 2026-02-19, published
//!   the same day: 0).
//!
//! The year, severity and kind tallies were cross-checked with a short script over the same
//! JSON (group by the field, count).

mod common;

use std::collections::BTreeMap;

use hvguard_compare::CompareKind;

fn map(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

#[test]
fn records_match_the_hand_counts() {
    let advisories = common::shipped();
    assert_eq!(advisories.len(), 150);
    let c = common::comparison(&common::fixture_snapshot(), &advisories, None);
    let record = |k: CompareKind| {
        c.hypervisors
            .iter()
            .find(|h| h.kind == k)
            .map(|h| h.advisories.clone())
            .expect("every kind")
    };

    let qemu = record(CompareKind::Qemu);
    assert_eq!(qemu.total, 126);
    assert_eq!(
        qemu.by_year,
        map(&[
            ("2018", 7),
            ("2019", 5),
            ("2020", 27),
            ("2021", 23),
            ("2022", 27),
            ("2023", 15),
            ("2024", 16),
            ("2025", 4),
            ("2026", 2)
        ])
    );
    assert_eq!(
        qemu.by_severity,
        map(&[
            ("critical", 1),
            ("high", 34),
            ("medium", 71),
            ("low", 19),
            ("unrated", 1)
        ])
    );
    assert_eq!(
        qemu.by_kind,
        map(&[
            ("dos", 73),
            ("info-leak", 7),
            ("other", 3),
            ("privilege-escalation", 7),
            ("vm-escape", 36)
        ])
    );
    assert_eq!(qemu.vm_escape, 33);
    for host_side in ["CVE-2019-14378", "CVE-2019-15890", "CVE-2020-1711"] {
        assert!(
            !qemu.vm_escape_ids.iter().any(|i| i == host_side),
            "{host_side}"
        );
    }
    assert_eq!(qemu.vm_escape_recent, 17);
    assert_eq!(qemu.kev, 0);
    assert_eq!(qemu.days_to_fix_samples, 1);
    assert_eq!(qemu.median_days_to_fix, Some(37.0));
    assert!(qemu.kata_scoped.is_empty());

    let clh = record(CompareKind::CloudHypervisor);
    assert_eq!(clh.total, 5);
    assert_eq!(
        clh.ids,
        [
            "CVE-2020-2025",
            "CVE-2026-24834",
            "CVE-2026-27211",
            "CVE-2026-45782",
            "GHSA-52h2-m2cf-9jh6"
        ]
    );
    assert_eq!(clh.kata_scoped, ["CVE-2020-2025", "CVE-2026-24834"]);
    assert_eq!(
        clh.by_year,
        map(&[("2020", 1), ("2026", 3), ("unknown", 1)])
    );
    assert_eq!(
        clh.by_severity,
        map(&[("critical", 1), ("high", 2), ("unrated", 2)])
    );
    assert_eq!(clh.vm_escape_ids, ["CVE-2020-2025", "CVE-2026-45782"]);
    assert_eq!(clh.vm_escape_recent, 1);
    assert_eq!(clh.days_to_fix_samples, 4);
    assert_eq!(clh.median_days_to_fix, Some(0.0));

    let fc = record(CompareKind::Firecracker);
    assert_eq!(
        fc.ids,
        [
            "CVE-2019-18960",
            "CVE-2020-16843",
            "CVE-2020-27174",
            "CVE-2026-1386",
            "CVE-2026-5747"
        ]
    );
    assert_eq!(
        fc.by_severity,
        map(&[("critical", 1), ("high", 2), ("medium", 2)])
    );
    assert_eq!(
        fc.by_kind,
        map(&[("dos", 2), ("privilege-escalation", 1), ("vm-escape", 2)])
    );
    assert_eq!(fc.vm_escape_ids, ["CVE-2019-18960", "CVE-2026-5747"]);
    assert_eq!(fc.vm_escape_recent, 1);
    assert_eq!(fc.days_to_fix_samples, 2);
    assert_eq!(fc.median_days_to_fix, Some(0.0));

    for kind in [
        CompareKind::Dragonball,
        CompareKind::StratoVirt,
        CompareKind::Remote,
    ] {
        let r = record(kind);
        assert_eq!((r.total, r.median_days_to_fix), (0, None), "{kind}");
    }
    assert!(!record(CompareKind::Dragonball).has_own_product);
    assert_eq!(
        c.shared_rust_vmm,
        [
            "RUSTSEC-2020-0157",
            "RUSTSEC-2023-0056",
            "RUSTSEC-2024-0002",
            "RUSTSEC-2024-0428"
        ]
    );
}

#[test]
fn kev_entries_from_the_store_are_counted() {
    let mut advisories = common::shipped();
    for a in &mut advisories {
        if a.id == "CVE-2026-5747" {
            a.kev = Some(hvguard_advisory::KevEntry {
                cve: a.id.clone(),
                date_added: Some(jiff::civil::date(2026, 5, 1)),
                ransomware: None,
            });
        }
    }
    let c = common::comparison(&common::fixture_snapshot(), &advisories, None);
    let fc = c
        .hypervisors
        .iter()
        .find(|h| h.kind == CompareKind::Firecracker)
        .expect("firecracker");
    assert_eq!(
        (fc.advisories.kev, fc.advisories.kev_ids.clone()),
        (1, vec!["CVE-2026-5747".to_owned()])
    );
}

#[test]
fn new_since_a_date_or_a_previous_list() {
    let advisories = common::shipped();
    let snapshot = common::fixture_snapshot();
    let by_date = common::comparison(
        &snapshot,
        &advisories,
        Some(hvguard_compare::Since::date(jiff::civil::date(2026, 6, 1))),
    );
    let new = |c: &hvguard_compare::Comparison, k: CompareKind| -> Vec<String> {
        c.hypervisors
            .iter()
            .find(|h| h.kind == k)
            .and_then(|h| h.advisories.new_since.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|n| n.id)
            .collect()
    };
    // Published after 2026-06-01 (hand-read from the JSON).
    assert_eq!(
        new(&by_date, CompareKind::CloudHypervisor),
        ["CVE-2026-45782"]
    );
    assert_eq!(
        new(&by_date, CompareKind::Qemu),
        ["CVE-2026-3195", "CVE-2026-3842"]
    );
    assert!(new(&by_date, CompareKind::Firecracker).is_empty());

    // A previous list that lacked two ids: exactly those are new, whatever their dates.
    let mut counted = BTreeMap::new();
    for h in &by_date.hypervisors {
        let ids = h
            .advisories
            .ids
            .iter()
            .filter(|i| !matches!(i.as_str(), "CVE-2018-19665" | "CVE-2019-18960"))
            .cloned()
            .collect();
        counted.insert(h.kind, ids);
    }
    let since = hvguard_compare::Since {
        date: jiff::civil::date(2026, 11, 1),
        from: "previous.md".to_owned(),
        counted: Some(counted),
    };
    let by_list = common::comparison(&snapshot, &advisories, Some(since));
    assert_eq!(new(&by_list, CompareKind::Qemu), ["CVE-2018-19665"]);
    assert_eq!(new(&by_list, CompareKind::Firecracker), ["CVE-2019-18960"]);
    assert!(new(&by_list, CompareKind::CloudHypervisor).is_empty());
}

/// Ranking order (strongest first) of the candidates for the Go QEMU configuration, which uses
/// virtio-fs.
fn qemu_config_ranking(c: &hvguard_compare::Comparison) -> Vec<CompareKind> {
    c.host
        .configs
        .iter()
        .find(|v| {
            v.path
                == std::path::Path::new(
                    "/opt/kata/share/defaults/kata-containers/configuration-qemu.toml",
                )
        })
        .unwrap_or_else(|| panic!("the Go QEMU configuration is not in the comparison"))
        .choice
        .candidates
        .iter()
        .map(|c| c.kind)
        .collect()
}

#[test]
fn an_empty_record_is_no_evidence_until_the_data_holds_the_product() {
    let snapshot = common::fixture_snapshot();
    let shipped = common::shipped();
    let c = common::comparison(&snapshot, &shipped, None);
    let own = |c: &hvguard_compare::Comparison, k: CompareKind| {
        c.hypervisors
            .iter()
            .find(|h| h.kind == k)
            .expect("hypervisor")
            .advisories
            .has_own_product
    };
    for (kind, expected) in [
        (CompareKind::Qemu, true),
        (CompareKind::CloudHypervisor, true),
        (CompareKind::Firecracker, true),
        // Only Kata advisories would ever count for Dragonball.
        (CompareKind::Dragonball, false),
        // A product of its own, but the shipped snapshot holds none of its advisories.
        (CompareKind::StratoVirt, false),
        (CompareKind::Remote, false),
    ] {
        assert_eq!(own(&c, kind), expected, "{kind}");
    }
    // StratoVirt's zero does not put it above QEMU's 17 (both have seccomp off by default).
    assert_eq!(
        qemu_config_ranking(&c),
        [
            CompareKind::CloudHypervisor,
            CompareKind::Dragonball,
            CompareKind::Qemu,
            CompareKind::StratoVirt
        ]
    );

    // A store holding one StratoVirt advisory gives it a record: now its count is compared.
    let mut with_stratovirt = shipped.clone();
    let mut advisory = shipped
        .iter()
        .find(|a| a.id == "CVE-2020-27174")
        .expect("a Firecracker advisory")
        .clone();
    advisory.id = "CVE-2099-0001".to_owned();
    for p in &mut advisory.products {
        p.product = hvguard_advisory::Product::StratoVirt;
    }
    with_stratovirt.push(advisory);
    let c = common::comparison(&snapshot, &with_stratovirt, None);
    assert!(own(&c, CompareKind::StratoVirt));
    assert_eq!(
        qemu_config_ranking(&c),
        [
            CompareKind::CloudHypervisor,
            CompareKind::Dragonball,
            CompareKind::StratoVirt,
            CompareKind::Qemu
        ]
    );
}
