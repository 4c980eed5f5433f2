//! Feeds arbitrary JSON to what `hvguard diff FILE FILE` does with it: decode as a Snapshot and
//! as a Report, then compare each with itself (no change may be found) and with an empty state.
#![no_main]

use hvguard_core::{DriftReference, Report, Snapshot};
use hvguard_drift::{diff, State};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let snapshot: Option<Snapshot> = serde_json::from_slice(data).ok();
    let report: Option<Report> = serde_json::from_slice(data).ok();
    let state = State::new("fuzz", snapshot.as_ref(), report.as_ref());
    let same = diff(DriftReference::Given, &state, &state);
    assert_eq!(same.summary.changes, 0);
    let empty = State::new("empty", None, None);
    let _ = diff(DriftReference::Given, &empty, &state);
});
