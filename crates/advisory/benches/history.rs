//! Scan history in the store: what `scan --record` adds to a scan, and `history` over 10,000
//! records. The states are this machine's live snapshot and a report of its size.
//!
//! Run: `cargo bench -p hvguard-advisory --bench history`

#![allow(clippy::expect_used, clippy::unwrap_used)]

use hvguard_advisory::store::history::{EncodedState, RecordOptions};
use hvguard_advisory::store::Store;
use hvguard_core::{Finding, HostRoot, Location, Report, ReportHost, Severity, Snapshot};
use std::path::Path;

fn main() {
    divan::main();
}

fn live() -> (Snapshot, Report) {
    let snapshot =
        hvguard_host::collect(&HostRoot::live(), &hvguard_host::CollectOptions::default());
    // A report of realistic size: 30 findings with text of real length.
    let findings = (0..30)
        .map(|i| Finding {
            rule: "kata.debug-enabled".parse().unwrap(),
            severity: Severity::Medium,
            title: "Debug output is enabled".repeat(2),
            message: "enable_debug = true in the runtime section makes the shim log ".repeat(3),
            location: Some(Location {
                path: format!("/etc/kata-containers/configuration-{i}.toml").into(),
                line: Some(i),
                key: Some("runtime.enable_debug".into()),
            }),
            evidence: "enable_debug = true".into(),
            remediation: "Set enable_debug = false in every section".repeat(2),
            references: vec!["https://github.com/kata-containers/kata-containers".into()],
            advisory: None,
        })
        .collect();
    let report = Report::new(
        snapshot.collected_at.clone(),
        ReportHost {
            hostname: Some("node".into()),
            root: "/".into(),
            kernel: None,
            os: None,
        },
        findings,
        Vec::new(),
        snapshot.hypervisors.clone(),
    );
    (snapshot, report)
}

fn options(i: i64) -> RecordOptions<'static> {
    RecordOptions {
        recorded_at: "2026-11-29T12:00:00Z",
        recorded_unix: 1_795_000_000 + i * 900,
        hvguard_version: "bench",
        drift_changes: Some(0),
        keep_days: 36_500,
    }
}

/// What `scan --record` adds to a scan of an unchanged host: encode the state, compare its keys
/// with the newest record's (no decoding when equal), open the store for writing (lock, schema
/// check) and insert the record in one transaction (SQLite syncs it to disk).
#[divan::bench(sample_count = 100)]
fn record_unchanged_scan(bencher: divan::Bencher) {
    let (snapshot, report) = live();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hvguard.db");
    {
        let (mut store, _lock) = Store::open_for_history(&path).unwrap();
        let state = EncodedState::new(&snapshot, &report).unwrap();
        store
            .record(&snapshot, &report, &state, &options(0))
            .unwrap();
    }
    let mut i = 1;
    bencher.bench_local(|| {
        let state = EncodedState::new(&snapshot, &report).unwrap();
        let reader = Store::open_readonly(&path).unwrap();
        let newest = reader.latest_ids(1).unwrap()[0];
        let same = reader.record_keys(newest).unwrap().unwrap()
            == (state.snapshot_key.clone(), state.report_key.clone());
        assert!(same);
        drop(reader);
        let (mut store, _lock) = Store::open_for_history(&path).unwrap();
        i += 1;
        store
            .record(&snapshot, &report, &state, &options(i))
            .unwrap()
            .id
    });
}

/// A store with `n` records of the live state, every 20th one changed so that not all share
/// one blob.
pub fn store_with(n: i64, path: &Path) {
    let (snapshot, report) = live();
    let (mut store, _lock) = Store::open_for_history(path).unwrap();
    for i in 0..n {
        let mut s = snapshot.clone();
        if i % 20 == 0 {
            s.warnings.push(format!("change {i}"));
        }
        let state = EncodedState::new(&s, &report).unwrap();
        store.record(&s, &report, &state, &options(i)).unwrap();
    }
}

/// `history`'s query over 10,000 records (the command adds formatting, measured in
/// docs/benchmarks.md with the binary).
#[divan::bench(sample_count = 30)]
fn history_of_10000_records(bencher: divan::Bencher) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hvguard.db");
    store_with(10_000, &path);
    let store = Store::open_readonly(&path).unwrap();
    bencher.bench_local(|| {
        let list = store.history().unwrap();
        assert_eq!(list.len(), 10_000);
        list
    });
}
