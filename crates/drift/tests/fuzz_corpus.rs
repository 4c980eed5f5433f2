//! Replays the `drift_states` fuzz corpus through the same steps as the fuzz target, as an
//! ordinary test: a state compared with itself has no drift, nothing panics.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hvguard_core::{DriftReference, Report, Snapshot};
use hvguard_drift::{diff, State};
use std::path::Path;

#[test]
fn drift_states_corpus_compares_without_panicking() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/drift_states");
    let mut decoded = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    assert!(!entries.is_empty());
    for path in entries {
        let data = std::fs::read(&path).unwrap();
        let snapshot: Option<Snapshot> = serde_json::from_slice(&data).ok();
        let report: Option<Report> = serde_json::from_slice(&data).ok();
        decoded += usize::from(snapshot.is_some() || report.is_some());
        let state = State::new("corpus", snapshot.as_ref(), report.as_ref());
        let same = diff(DriftReference::Given, &state, &state);
        assert_eq!(same.summary.changes, 0, "{}", path.display());
        let _ = diff(
            DriftReference::Given,
            &State::new("empty", None, None),
            &state,
        );
    }
    assert!(decoded >= 2, "the real seeds decode");
}
