//! Scan history in the store: recording, listing, the baseline, the digest cache, retention
//! under clock skew, the in-place upgrade of a store written before history existed, and a
//! store whose history pages are damaged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hvguard_advisory::store::history::{EncodedState, RecordOptions};
use hvguard_advisory::store::Store;
use hvguard_core::{
    CachedDigest, DigestAlgorithm, FileIdentity, HostRoot, Report, ReportHost, Severity, Snapshot,
};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

fn snapshot() -> Snapshot {
    let root = HostRoot::new(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/hosts/kata-static"),
    )
    .unwrap();
    hvguard_host::collect(&root, &hvguard_host::CollectOptions::default())
}

fn report(snapshot: &Snapshot, generated_at: &str) -> Report {
    let evaluation = hvguard_audit_free_findings(snapshot);
    Report::new(
        generated_at.to_string(),
        ReportHost {
            hostname: Some("node-1".into()),
            root: "/".into(),
            kernel: None,
            os: None,
        },
        evaluation,
        Vec::new(),
        snapshot.hypervisors.clone(),
    )
}

/// A finding per hypervisor, so reports differ when the inventory does (the advisory crate
/// does not depend on the rule catalogue).
fn hvguard_audit_free_findings(snapshot: &Snapshot) -> Vec<hvguard_core::Finding> {
    snapshot
        .hypervisors
        .iter()
        .map(|h| hvguard_core::Finding {
            rule: "hypervisor.binary-modified".parse().unwrap(),
            severity: Severity::Critical,
            title: "t".into(),
            message: "m".into(),
            location: Some(hvguard_core::Location {
                path: h.path.clone(),
                line: None,
                key: None,
            }),
            evidence: "e".into(),
            remediation: "r".into(),
            references: vec![],
            advisory: None,
        })
        .collect()
}

fn options(at: &str, unix: i64, keep_days: u32) -> RecordOptions<'_> {
    RecordOptions {
        recorded_at: at,
        recorded_unix: unix,
        hvguard_version: "test",
        drift_changes: None,
        keep_days,
    }
}

fn record(store: &mut Store, s: &Snapshot, r: &Report, at: &str, unix: i64, keep: u32) -> i64 {
    let encoded = EncodedState::new(s, r).unwrap();
    store
        .record(s, r, &encoded, &options(at, unix, keep))
        .unwrap()
        .id
}

fn count(path: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

const DAY: i64 = 86_400;
const NOW: i64 = 1_795_000_000;

#[test]
fn records_list_decode_and_share_unchanged_states() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hvguard.db");
    let s = snapshot();
    let r = report(&s, "2026-11-29T10:00:00Z");
    let (mut store, _lock) = Store::open_for_history(&path).unwrap();
    let first = record(&mut store, &s, &r, "2026-11-29T10:00:00Z", NOW, 90);
    let mut later = s.clone();
    later.collected_at = "2026-11-29T10:15:00Z".into();
    let r2 = report(&later, "2026-11-29T10:15:01Z");
    let second = record(
        &mut store,
        &later,
        &r2,
        "2026-11-29T10:15:01Z",
        NOW + 900,
        90,
    );
    assert!(second > first);
    // The host did not change: one snapshot and one report stored for both records.
    assert_eq!(count(&path, "SELECT COUNT(*) FROM history_blobs"), 2);
    let list = store.history().unwrap();
    assert_eq!(
        list.iter().map(|r| r.id).collect::<Vec<_>>(),
        [first, second]
    );
    assert_eq!(list[1].summary.critical, s.hypervisors.len());
    let back = store.history_record(second).unwrap().unwrap();
    // The timestamps come back from the record rows, the rest from the shared state.
    assert_eq!(back.snapshot.collected_at, "2026-11-29T10:15:00Z");
    assert_eq!(back.report.generated_at, "2026-11-29T10:15:01Z");
    assert_eq!(back.snapshot.hypervisors, s.hypervisors);
    assert_eq!(back.report.findings, r.findings);
    assert_eq!(store.latest_ids(2).unwrap(), [second, first]);
    assert_eq!(
        store.record_keys(first).unwrap(),
        store.record_keys(second).unwrap()
    );
    assert!(store.history_record(999).unwrap().is_none());
}

#[test]
fn the_baseline_keeps_the_binary_digests() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hvguard.db");
    let s = snapshot();
    assert!(
        !s.integrity.binaries.is_empty(),
        "the fixture's binaries are hashed"
    );
    let r = report(&s, "2026-11-29T10:00:00Z");
    let (mut store, _lock) = Store::open_for_history(&path).unwrap();
    assert!(store.baseline().unwrap().is_none());
    let id = record(&mut store, &s, &r, "2026-11-29T10:00:00Z", NOW, 90);
    let b = store
        .set_baseline(id, "2026-11-29T11:00:00Z", Some("after the audit"))
        .unwrap();
    assert!(b.record.baseline);
    let shown = store.baseline().unwrap().unwrap();
    assert_eq!(shown.record.id, id);
    assert_eq!(shown.note.as_deref(), Some("after the audit"));
    let integrity = store.baseline_integrity().unwrap().unwrap();
    assert_eq!(integrity.binaries, s.integrity.binaries);
    assert_eq!(integrity.kata_release.as_deref(), Some("3.20.0"));
    assert!(store.history().unwrap()[0].baseline);
    assert!(store.set_baseline(id + 7, "x", None).is_err());
}

#[test]
fn retention_follows_the_sequence_when_the_clock_jumps() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hvguard.db");
    let s = snapshot();
    let r = report(&s, "t");
    let (mut store, _lock) = Store::open_for_history(&path).unwrap();
    let old = record(&mut store, &s, &r, "old", NOW - 40 * DAY, 30);
    let base = record(&mut store, &s, &r, "base", NOW - 35 * DAY, 30);
    store.set_baseline(base, "b", None).unwrap();
    let mut rec = |at: &str, unix: i64| record(&mut store, &s, &r, at, unix, 30);
    // Retention runs at most a day ahead of the previous record, so after a gap it catches
    // up on the next record.
    let recent = rec("recent", NOW - DAY);
    let recent2 = rec("recent2", NOW - DAY + 900);
    // The clock went back a year: this record is newer than `recent2` whatever it says.
    let skewed = rec("skewed", NOW - 365 * DAY);
    // Then ten years ahead for one scan, and back: nothing is lost to that.
    let future = rec("future", NOW + 3650 * DAY);
    let back = rec("back", NOW);
    let ids =
        |store: &Store| -> Vec<i64> { store.history().unwrap().iter().map(|r| r.id).collect() };
    assert_eq!(
        ids(&store),
        [base, recent, recent2, skewed, future, back],
        "only `old` ({old}) is past the window"
    );
    assert_eq!(store.latest_ids(1).unwrap(), [back]);
    // Time moving on normally still prunes, in sequence order: everything recorded before the
    // first record inside the window goes, except the baseline.
    record(&mut store, &s, &r, "later", NOW + 31 * DAY, 30);
    let later2 = record(&mut store, &s, &r, "later2", NOW + 31 * DAY + 900, 30);
    let left = ids(&store);
    assert_eq!(left.first(), Some(&base));
    assert!(
        !left.contains(&recent) && !left.contains(&skewed),
        "{left:?}"
    );
    assert!(
        left.ends_with(&[back, left[left.len() - 2], later2]),
        "{left:?}"
    );
}

#[test]
fn the_digest_cache_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hvguard.db");
    let (mut store, _lock) = Store::open_for_history(&path).unwrap();
    assert!(store.cached_digests().unwrap().is_empty());
    let entry = CachedDigest {
        identity: FileIdentity {
            device: u64::MAX - 1,
            inode: 12,
            size: 18_397_984,
            mtime_ns: 1_700_000_000_123_456_789,
            ctime_ns: -5,
        },
        algorithm: DigestAlgorithm::Md5,
        digest: "30d041a0b888e3be1b0aab0af8b4bb7c".into(),
    };
    store
        .save_digests(std::slice::from_ref(&entry), NOW)
        .unwrap();
    store
        .save_digests(std::slice::from_ref(&entry), NOW)
        .unwrap();
    assert_eq!(store.cached_digests().unwrap(), [entry]);
}

fn v1_copy(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures_history/v1-store.db");
    let dest = dir.join("advisories.db");
    std::fs::copy(src, &dest).unwrap();
    dest
}

#[test]
fn a_store_from_before_history_reads_and_upgrades_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = v1_copy(dir.path());
    let before = std::fs::read(&path).unwrap();
    {
        let store = Store::open_readonly(&path).unwrap();
        assert_eq!(store.status().unwrap().schema_version, 1);
        assert!(store.history().unwrap().is_empty());
        assert!(store.baseline().unwrap().is_none());
        assert!(store.cached_digests().unwrap().is_empty());
    }
    // Reading changed nothing.
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let s = snapshot();
    let r = report(&s, "t");
    let (mut store, _lock) = Store::open_for_history(&path).unwrap();
    let id = record(&mut store, &s, &r, "2026-11-29T10:00:00Z", NOW, 90);
    drop(store);
    let store = Store::open_readonly(&path).unwrap();
    let status = store.status().unwrap();
    assert_eq!(
        status.schema_version,
        hvguard_advisory::store::SCHEMA_VERSION
    );
    assert_eq!(status.advisories, 4, "the advisories survived the upgrade");
    assert_eq!(store.advisories().unwrap().len(), 4);
    assert_eq!(store.history().unwrap()[0].id, id);
}

/// Overwrites the first page of the history table with junk, as a failing disk would.
fn damage_history_pages(path: &Path) {
    let (root_page, page_size): (i64, i64) = {
        let conn = rusqlite::Connection::open(path).unwrap();
        let root: i64 = conn
            .query_row(
                "SELECT rootpage FROM sqlite_master WHERE name = 'history_records'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let size: i64 = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap();
        (root, size)
    };
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(((root_page - 1) * page_size) as u64))
        .unwrap();
    f.write_all(&vec![0xA5; page_size as usize]).unwrap();
}

#[test]
fn damaged_history_pages_fail_history_reads_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = v1_copy(dir.path());
    let s = snapshot();
    let r = report(&s, "t");
    {
        let (mut store, _lock) = Store::open_for_history(&path).unwrap();
        record(&mut store, &s, &r, "t", NOW, 90);
    }
    damage_history_pages(&path);
    let store = Store::open_readonly(&path).unwrap();
    let err = store.history().unwrap_err().to_string();
    assert!(err.starts_with(&path.display().to_string()), "{err}");
    assert!(err.contains("malformed"), "{err}");
    // The advisories live on other pages and still read.
    assert_eq!(store.advisories().unwrap().len(), 4);
}

#[test]
fn db_update_keeps_the_history() {
    use hvguard_advisory::store::{update_store, ImportBatch, SourceInfo};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hvguard.db");
    let s = snapshot();
    let r = report(&s, "t");
    let id = {
        let (mut store, _lock) = Store::open_for_history(&path).unwrap();
        let id = record(&mut store, &s, &r, "t", NOW, 90);
        store.set_baseline(id, "b", None).unwrap();
        id
    };
    let imported = hvguard_advisory::import_path(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/advisories/osv"),
    )
    .unwrap();
    let batch = ImportBatch {
        source: SourceInfo {
            name: "osv".into(),
            location: "/fixtures/osv".into(),
            format: "osv".into(),
            size: 0,
            sha256: None,
        },
        imported,
    };
    update_store(&path, &[batch], "2026-11-29T00:00:00Z", &mut |_| Ok(())).unwrap();
    let store = Store::open_readonly(&path).unwrap();
    assert_eq!(store.advisories().unwrap().len(), 4);
    assert_eq!(store.history().unwrap()[0].id, id);
    assert_eq!(store.baseline().unwrap().unwrap().record.id, id);
    assert!(store.history_record(id).unwrap().is_some());
}
