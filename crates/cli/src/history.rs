//! What `scan` does with the store's history: the digest cache before collecting, the baseline's
//! digests before evaluating, the drift after, and the record at the end.
//!
//! History is an addition to a scan, never a condition for it: when the store cannot be read
//! or written (damaged, locked, read-only), the scan runs and reports as usual, says once on
//! stderr that history is unavailable, and keeps its exit code.

use crate::states::{self, LoadedState};
use anyhow::Result;
use hvguard_advisory::store::history::{EncodedState, RecordOptions, DEFAULT_KEEP_DAYS};
use hvguard_advisory::store::{Store, StoreError};
use hvguard_core::{CachedDigest, Diff, DriftReference, Report, Snapshot};
use hvguard_host::integrity::digest::DigestCache;
use std::path::{Path, PathBuf};

/// What the scan asked of the history.
#[derive(Debug, Clone)]
pub struct HistoryRequest {
    /// `--record`.
    pub record: bool,
    /// `--baseline` (`Some(None)`: the store's baseline; `Some(Some(file))`: that file).
    pub baseline: Option<Option<PathBuf>>,
    /// `[history] keep_days`.
    pub keep_days: Option<u32>,
}

/// The store's history as one scan uses it.
#[derive(Debug)]
pub struct ScanHistory {
    path: PathBuf,
    request: HistoryRequest,
    /// Open for reading when the store exists and could be read.
    store: Option<Store>,
    /// Set once history failed; later steps are skipped.
    unavailable: bool,
    /// `--baseline FILE`, loaded.
    baseline_file: Option<LoadedState>,
}

impl ScanHistory {
    /// Opens the store for reading when it exists. A `--baseline FILE` that cannot be read is
    /// an input error (exit 2); a store that cannot be read only makes history unavailable.
    pub fn open(path: &Path, request: HistoryRequest) -> Result<ScanHistory> {
        let baseline_file = match &request.baseline {
            Some(Some(file)) => Some(states::load_file(file)?),
            _ => None,
        };
        let mut history = ScanHistory {
            path: path.to_path_buf(),
            request,
            store: None,
            unavailable: false,
            baseline_file,
        };
        if path.exists() {
            match Store::open_readonly(path) {
                Ok(store) => history.store = Some(store),
                Err(e) => history.fail(&e),
            }
        }
        Ok(history)
    }

    /// Says once that history is unavailable, and why.
    fn fail(&mut self, error: &dyn std::fmt::Display) {
        if !self.unavailable {
            eprintln!(
                "hvguard: warning: history unavailable: {error}; the scan goes on without it{}",
                if self.request.record {
                    " and is not recorded"
                } else {
                    ""
                }
            );
        }
        self.unavailable = true;
        self.store = None;
    }

    fn readable(&self) -> Option<&Store> {
        self.store.as_ref().filter(|_| !self.unavailable)
    }

    /// The digests the store remembers; `None` when the store cannot hold them (no store, a
    /// store from before history, history unavailable), and the caller uses the cache file.
    pub fn digest_cache(&mut self) -> Option<DigestCache> {
        let store = self.readable()?;
        let entries = match store.has_digest_cache() {
            Ok(false) => return None,
            Ok(true) => store.cached_digests(),
            Err(e) => Err(e),
        };
        match entries {
            Ok(entries) => Some(DigestCache::new(entries)),
            Err(e) => {
                self.fail(&e);
                None
            }
        }
    }

    /// Attaches the baseline's binary digests to the snapshot, for `hypervisor.binary-modified`.
    pub fn attach_baseline(&mut self, snapshot: &mut Snapshot) {
        if let Some(file) = &self.baseline_file {
            if let Some(then) = &file.snapshot {
                snapshot.integrity.baseline = Some(hvguard_core::IntegrityBaseline {
                    record: 0,
                    approved_at: then.collected_at.clone(),
                    kata_release: then.kata_install.value().map(|k| k.version.clone()),
                    binaries: then.integrity.binaries.clone(),
                });
            }
            return;
        }
        match self.readable().map(Store::baseline_integrity) {
            Some(Ok(baseline)) => snapshot.integrity.baseline = baseline,
            Some(Err(e)) => self.fail(&e),
            None => {}
        }
    }

    /// The drift to show in the report: from the baseline with `--baseline`, else from the
    /// previous record with `--record`. Also returns the change count since the previous
    /// record, for the new record's row.
    pub fn drift(
        &mut self,
        snapshot: &Snapshot,
        report: &Report,
        encoded: Option<&EncodedState>,
    ) -> (Option<Diff>, Option<usize>) {
        let new = LoadedStateRef {
            snapshot,
            report,
            label: "this scan",
        };
        let mut shown = None;
        if let Some(file) = &self.baseline_file {
            shown = Some(diff(DriftReference::Baseline, &file.as_state(), &new));
        } else if self.request.baseline.is_some() {
            shown = self.drift_since_baseline(&new);
        }
        let mut since_previous = None;
        if self.request.record {
            let previous = self.drift_since_previous(&new, encoded);
            since_previous = previous.as_ref().map(|d| d.summary.changes);
            if shown.is_none() {
                shown = previous;
            }
        }
        (shown, since_previous)
    }

    fn drift_since_baseline(&mut self, new: &LoadedStateRef<'_>) -> Option<Diff> {
        if self.unavailable {
            return None;
        }
        let Some(store) = self.readable() else {
            eprintln!(
                "hvguard: warning: no baseline: {} does not exist (hvguard scan --record, then \
                 hvguard baseline set)",
                self.path.display()
            );
            return None;
        };
        let loaded = match store.baseline() {
            Ok(None) => {
                eprintln!(
                    "hvguard: warning: no baseline approved in {} (hvguard baseline set)",
                    self.path.display()
                );
                return None;
            }
            Ok(Some(_)) => states::load_record(store, &states::StateSpec::Baseline),
            Err(e) => Err(e.into()),
        };
        match loaded {
            Ok(old) => Some(diff(DriftReference::Baseline, &old.as_state(), new)),
            Err(e) => {
                self.fail(&format!("{e:#}"));
                None
            }
        }
    }

    /// The drift from the newest record; when both hold the same state, without decoding it.
    fn drift_since_previous(
        &mut self,
        new: &LoadedStateRef<'_>,
        encoded: Option<&EncodedState>,
    ) -> Option<Diff> {
        let store = self.readable()?;
        let result = (|| -> Result<Option<Diff>, StoreError> {
            let Some(&id) = store.latest_ids(1)?.first() else {
                return Ok(None);
            };
            let same = match (store.record_keys(id)?, encoded) {
                (Some((s, r)), Some(e)) => s == e.snapshot_key && r == e.report_key,
                _ => false,
            };
            if same {
                let meta = store.record_summary(id)?;
                let old = hvguard_drift::State {
                    label: &format!("record {id}"),
                    record: Some(id),
                    at: meta.as_ref().map(|m| m.recorded_at.as_str()),
                    snapshot: Some(new.snapshot),
                    report: Some(new.report),
                };
                return Ok(Some(hvguard_drift::diff(
                    DriftReference::Previous,
                    &old,
                    &new.state(),
                )));
            }
            let Some(record) = store.history_record(id)? else {
                return Ok(None);
            };
            let old = LoadedState::from_record(record, format!("record {id}"));
            Ok(Some(diff(DriftReference::Previous, &old.as_state(), new)))
        })();
        match result {
            Ok(d) => d,
            Err(e) => {
                self.fail(&e);
                None
            }
        }
    }

    /// Records the scan and saves new digests (`--record` only). Failures are warnings.
    pub fn finish(
        mut self,
        snapshot: &Snapshot,
        report: &Report,
        encoded: Option<&EncodedState>,
        drift_changes: Option<usize>,
        fresh_digests: &[CachedDigest],
    ) {
        if !self.request.record {
            // A cache is only a cache: fill it when the store is there and free, say nothing
            // when it is not.
            if !self.unavailable {
                self.store = None;
                let now = jiff::Timestamp::now().as_second();
                Store::save_digests_if_idle(&self.path, fresh_digests, now);
            }
            return;
        }
        if self.unavailable {
            return;
        }
        let Some(encoded) = encoded else {
            return;
        };
        // The read-only handle is closed before writing.
        self.store = None;
        let now = jiff::Timestamp::now();
        let recorded_at = crate::pipeline::now();
        let options = RecordOptions {
            recorded_at: &recorded_at,
            recorded_unix: now.as_second(),
            hvguard_version: env!("CARGO_PKG_VERSION"),
            drift_changes,
            keep_days: self.request.keep_days.unwrap_or(DEFAULT_KEEP_DAYS),
        };
        let result = Store::open_for_history(&self.path).and_then(|(mut store, _lock)| {
            let recorded = store.record(snapshot, report, encoded, &options)?;
            store.save_digests(fresh_digests, now.as_second())?;
            Ok(recorded)
        });
        match result {
            Ok(recorded) => {
                let pruned = if recorded.pruned > 0 {
                    format!(
                        "; {} record(s) past the retention of {} day(s) removed",
                        recorded.pruned, options.keep_days
                    )
                } else {
                    String::new()
                };
                eprintln!(
                    "hvguard: recorded as {} record {}{pruned}",
                    self.path.display(),
                    recorded.id
                );
            }
            Err(e) => self.fail(&e),
        }
    }
}

/// The scan being made, as one side of a diff.
struct LoadedStateRef<'a> {
    snapshot: &'a Snapshot,
    report: &'a Report,
    label: &'a str,
}

impl LoadedStateRef<'_> {
    fn state(&self) -> hvguard_drift::State<'_> {
        hvguard_drift::State::new(self.label, Some(self.snapshot), Some(self.report))
    }
}

fn diff(
    reference: DriftReference,
    old: &hvguard_drift::State<'_>,
    new: &LoadedStateRef<'_>,
) -> Diff {
    hvguard_drift::diff(reference, old, &new.state())
}
