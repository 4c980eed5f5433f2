//! The store keeps every source's records and decides the same whatever the import order:
//! the shipped snapshot, the CVE 5 records and the NVD records imported in all six orders
//! give the same advisories and the same report for the same hosts. A schema 1 store (one
//! row per id: the last import won) is migrated without losing a row.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use hvguard_advisory::import::import_path;
use hvguard_advisory::matching::match_snapshot;
use hvguard_advisory::policy::Policy;
use hvguard_advisory::store::{update_store, ImportBatch, SourceInfo, Store, SCHEMA_VERSION};
use hvguard_core::{HostRoot, Snapshot};

fn host(name: &str) -> Snapshot {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/hosts")
        .join(name);
    hvguard_host::collect(
        &HostRoot::new(dir).unwrap(),
        &hvguard_host::CollectOptions::default(),
    )
}

fn import(store: &Path, input: &Path) {
    let imported = import_path(input).unwrap();
    let source = SourceInfo::for_path(input, &imported).unwrap();
    update_store(
        store,
        &[ImportBatch { source, imported }],
        "2026-11-27T00:00:00Z",
        &mut |_| Ok(()),
    )
    .unwrap();
}

/// What a report says about advisories: every finding and unknown check, as JSON text.
fn report(snapshot: &Snapshot, advisories: &[hvguard_advisory::Advisory]) -> String {
    let outcome = match_snapshot(
        snapshot,
        advisories,
        &Policy::default(),
        jiff::civil::date(2026, 11, 27),
    );
    serde_json::to_string(&(
        &outcome.findings,
        outcome.unknown_checks(),
        &outcome.decisions,
    ))
    .unwrap()
}

#[test]
fn every_import_order_gives_the_same_report() {
    let shipped = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/hypervisor-advisories.json");
    let inputs = [
        shipped,
        common::fixture("cvelistV5"),
        common::fixture("nvd"),
    ];
    let hosts = [host("kata-static"), host("intel-problems")];
    let mut reference: Option<(Vec<hvguard_advisory::Advisory>, Vec<String>)> = None;
    for order in [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("advisories.db");
        for i in order {
            import(&store, &inputs[i]);
        }
        let advisories = Store::open_readonly(&store).unwrap().advisories().unwrap();
        let reports: Vec<String> = hosts.iter().map(|h| report(h, &advisories)).collect();
        match &reference {
            None => reference = Some((advisories, reports)),
            Some((a, r)) => {
                assert!(a == &advisories, "advisories differ for order {order:?}");
                assert!(r == &reports, "reports differ for order {order:?}");
            }
        }
    }
    let (advisories, _) = reference.unwrap();
    // Nothing a source said was lost: CVE-2024-3446 keeps the shipped branch fixes and the
    // NVD-less CVE 5 record's facts, each with its source.
    let merged = advisories.iter().find(|a| a.id == "CVE-2024-3446").unwrap();
    assert!(merged
        .provenance
        .note
        .as_deref()
        .is_some_and(|n| n.contains("merged from")));
    assert!(!merged.products[0].ranges.fixes.is_empty());
    // The same CVE from three sources is still one advisory.
    let venom = advisories
        .iter()
        .filter(|a| a.id == "CVE-2015-3456")
        .count();
    assert_eq!(venom, 1);
}

/// The tables of schema 1, as the previous hvguard created them.
const SCHEMA_1: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sources (name TEXT PRIMARY KEY, location TEXT NOT NULL, format TEXT NOT NULL,
    imported_at TEXT NOT NULL, records INTEGER NOT NULL, size INTEGER NOT NULL, sha256 TEXT);
CREATE TABLE advisories (id TEXT PRIMARY KEY, source TEXT NOT NULL, json TEXT NOT NULL);
CREATE INDEX advisories_source ON advisories(source);
CREATE TABLE advisory_products (id TEXT NOT NULL, product TEXT NOT NULL, PRIMARY KEY (id, product));
CREATE INDEX advisory_products_product ON advisory_products(product);
CREATE TABLE kev (cve TEXT PRIMARY KEY, source TEXT NOT NULL, json TEXT NOT NULL);
CREATE TABLE epss (cve TEXT PRIMARY KEY, source TEXT NOT NULL, epss REAL NOT NULL, percentile REAL NOT NULL);
CREATE TABLE distro (id TEXT NOT NULL, distro TEXT NOT NULL, release TEXT NOT NULL, package TEXT NOT NULL,
    source TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (id, distro, release, package));
CREATE TABLE seen (advisory TEXT NOT NULL, binary TEXT NOT NULL, first_seen TEXT NOT NULL,
    PRIMARY KEY (advisory, binary));
INSERT INTO meta (key, value) VALUES ('schema_version', '1');
";

#[test]
fn a_schema_1_store_is_read_and_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("advisories.db");
    {
        let conn = rusqlite::Connection::open(&store).unwrap();
        conn.execute_batch(SCHEMA_1).unwrap();
        let adv = hvguard_advisory::shipped_snapshot()
            .unwrap()
            .into_iter()
            .find(|a| a.id == "CVE-2024-7730")
            .unwrap();
        conn.execute(
            "INSERT INTO advisories (id, source, json) VALUES (?1, 'old-source', ?2)",
            [adv.id.as_str(), &serde_json::to_string(&adv).unwrap()],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO advisory_products (id, product) VALUES ('CVE-2024-7730', 'qemu')",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO seen (advisory, binary, first_seen) VALUES ('CVE-2024-7730', '/q', 'then')",
            [],
        )
        .unwrap();
    }
    // Read as it is.
    let old = Store::open_readonly(&store).unwrap();
    assert_eq!(old.status().unwrap().schema_version, 1);
    assert_eq!(old.advisories().unwrap().len(), 1);
    drop(old);
    // An import migrates it, keeping the old row under its source.
    import(&store, &common::fixture("nvd"));
    let new = Store::open_readonly(&store).unwrap();
    let status = new.status().unwrap();
    assert_eq!(status.schema_version, SCHEMA_VERSION);
    assert_eq!(status.seen, 1);
    let all = new.advisories().unwrap();
    assert!(all.iter().any(|a| a.id == "CVE-2024-7730"));
    assert_eq!(status.advisories, all.len() as u64);
    assert!(status.per_product.get("qemu").copied().unwrap_or(0) > 1);
}
