//! `hvguard diff` of two records: load both from the store (decompress, decode) and compare.
//! The states are this machine's live snapshot, the newer one with a changed Kata key, kernel
//! command line and binary hash.
//!
//! Run: `cargo bench -p hvguard-drift --bench diff`

#![allow(clippy::expect_used, clippy::unwrap_used)]

use hvguard_advisory::store::history::{EncodedState, RecordOptions};
use hvguard_advisory::store::Store;
use hvguard_core::{DriftReference, HostRoot, Report, ReportHost, Snapshot};
use hvguard_drift::{diff, State};

fn main() {
    divan::main();
}

fn report_of(snapshot: &Snapshot) -> Report {
    let evaluation = hvguard_audit::evaluate(snapshot);
    Report::new(
        snapshot.collected_at.clone(),
        ReportHost {
            hostname: Some("node".into()),
            root: "/".into(),
            kernel: None,
            os: None,
        },
        evaluation.findings,
        evaluation.unknown,
        snapshot.hypervisors.clone(),
    )
}

fn two_records(path: &std::path::Path) -> (i64, i64) {
    let old = hvguard_host::collect(&HostRoot::live(), &hvguard_host::CollectOptions::default());
    let mut new = old.clone();
    new.host.cmdline = hvguard_core::Probe::found(vec!["mitigations=off".into()]);
    if let Some(b) = new.integrity.binaries.first_mut() {
        b.sha256 = "0".repeat(64);
    }
    if let Some(c) = new.kata.first_mut() {
        if let Some(v) = c.values.values_mut().next() {
            v.value = hvguard_core::ConfigValue::Bool(true);
        }
    }
    let (mut store, _lock) = Store::open_for_history(path).unwrap();
    let mut ids = Vec::new();
    for (i, s) in [old, new].iter().enumerate() {
        let r = report_of(s);
        let state = EncodedState::new(s, &r).unwrap();
        let opts = RecordOptions {
            recorded_at: "2026-11-29T12:00:00Z",
            recorded_unix: 1_795_000_000 + i as i64,
            hvguard_version: "bench",
            drift_changes: None,
            keep_days: 90,
        };
        ids.push(store.record(s, &r, &state, &opts).unwrap().id);
    }
    (ids[0], ids[1])
}

#[divan::bench(sample_count = 100)]
fn diff_two_records(bencher: divan::Bencher) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hvguard.db");
    let (a, b) = two_records(&path);
    let store = Store::open_readonly(&path).unwrap();
    bencher.bench_local(|| {
        let old = store.history_record(a).unwrap().unwrap();
        let new = store.history_record(b).unwrap().unwrap();
        let d = diff(
            DriftReference::Previous,
            &State::new("old", Some(&old.snapshot), Some(&old.report)),
            &State::new("new", Some(&new.snapshot), Some(&new.report)),
        );
        assert!(d.summary.facts_changed >= 2);
        d.summary
    });
}
