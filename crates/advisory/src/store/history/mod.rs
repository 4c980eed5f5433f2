//! Scan history in the store: every `scan --record` keeps its Snapshot and Report, `history`
//! lists them, `diff` compares two, and one record can be approved as the baseline.
//!
//! Records are ordered by their id, a sequence SQLite never reuses, not by their time: a clock
//! that jumped backwards cannot reorder history or make retention delete the newest records.

mod codec;
mod digests;
pub(crate) mod schema;

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{Store, StoreError, StoreLock};
use hvguard_core::{IntegrityBaseline, Report, Snapshot, Summary, SNAPSHOT_SCHEMA};

pub use digests::MAX_CACHED_DIGESTS;

/// Records kept when the policy says nothing (`[history] keep_days`).
pub const DEFAULT_KEEP_DAYS: u32 = 90;

/// How long a write waits for `db update` (which holds the store's lock while it rebuilds the
/// store) before giving up.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// One record as `history` lists it: no snapshot decoded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecordSummary {
    /// The record's sequence number: later records have larger ids, whatever the clock said.
    pub id: i64,
    /// When it was recorded (RFC 3339, the recording host's clock).
    pub recorded_at: String,
    /// The hvguard that recorded it.
    pub hvguard_version: String,
    pub hostname: Option<String>,
    pub root: String,
    /// Findings per severity.
    pub summary: Summary,
    /// Checks that could not decide.
    pub unknown: u64,
    /// Changes from the record before it (`None` for the first, or when not computed).
    pub drift_changes: Option<u64>,
    /// True for the approved baseline.
    pub baseline: bool,
}

/// A whole record.
#[derive(Debug, Clone)]
pub struct HistoryRecord {
    pub meta: RecordSummary,
    pub snapshot: Snapshot,
    pub report: Report,
}

/// The approved state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Baseline {
    pub record: RecordSummary,
    /// When it was approved (RFC 3339).
    pub approved_at: String,
    pub note: Option<String>,
}

/// What `record` needs besides the snapshot and report.
#[derive(Debug, Clone, Copy)]
pub struct RecordOptions<'a> {
    /// Now, RFC 3339.
    pub recorded_at: &'a str,
    /// Now, seconds since the epoch (retention compares these).
    pub recorded_unix: i64,
    /// This hvguard's version.
    pub hvguard_version: &'a str,
    /// Changes from the previous record, when the caller computed them.
    pub drift_changes: Option<usize>,
    /// Records older than this many days are removed (the newest record and the baseline are
    /// always kept).
    pub keep_days: u32,
}

/// What `record` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    pub id: i64,
    /// Records removed by retention.
    pub pruned: u64,
}

impl Store {
    /// Opens (creating or upgrading it when needed) the store for writing history. Waits for a
    /// running `db update` to finish, up to ten seconds.
    pub fn open_for_history(path: &Path) -> Result<(Store, StoreLock), StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::io(parent, "creating the store folder", e))?;
        }
        let lock = StoreLock::acquire(path, LOCK_WAIT)?;
        let store = Store {
            path: path.to_path_buf(),
            conn: Store::open_locked(path)?,
        };
        store
            .conn
            .busy_timeout(LOCK_WAIT)
            .map_err(|e| StoreError::sqlite(path, "configuring the store", e))?;
        // A record is written on every scan; waiting for the disk (three fsyncs per commit,
        // ~25 ms on a virtio disk) would cost ten times the record itself. Without the sync a
        // crash of hvguard still rolls back cleanly (the OS has the journal); only a power loss
        // or kernel crash in the seconds after a record can lose it, or in the worst case
        // damage the file: scans survive that (history unavailable), and removing the file and
        // running `db update` starts a new one.
        store
            .conn
            .pragma_update(None, "synchronous", "OFF")
            .map_err(|e| StoreError::sqlite(path, "configuring the store", e))?;
        Ok((store, lock))
    }

    /// True when the store has history tables (a store from before history has none: it reads
    /// as an empty history).
    fn has_history(&self) -> Result<bool, StoreError> {
        let found: Option<String> = self
            .conn
            .query_row(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'history_records'",
                [],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| StoreError::sqlite(&self.path, "reading the history", e))?;
        Ok(found.is_some())
    }

    /// Stores a scan (`state` is its snapshot and report, encoded); applies retention in the
    /// same transaction.
    pub fn record(
        &mut self,
        snapshot: &Snapshot,
        report: &Report,
        state: &EncodedState,
        options: &RecordOptions<'_>,
    ) -> Result<Recorded, StoreError> {
        let path = self.path.clone();
        let sql = |what: &'static str| {
            let path = path.clone();
            move |e| StoreError::sqlite(path, what, e)
        };
        let EncodedState {
            snapshot_key,
            snapshot_json,
            report_key,
            report_json,
        } = state;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql("starting to record the scan"))?;
        let previous_unix: Option<i64> = tx
            .query_row(
                "SELECT recorded_unix FROM history_records ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql("reading the history"))?;
        for (key, kind, json) in [
            (&snapshot_key, "snapshot", &snapshot_json),
            (&report_key, "report", &report_json),
        ] {
            let present: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM history_blobs WHERE sha256 = ?1",
                    [key],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql("reading the history"))?;
            if present.is_none() {
                let data =
                    codec::compress(json).map_err(|e| StoreError::io(&path, "compressing", e))?;
                tx.execute(
                    "INSERT INTO history_blobs (sha256, kind, data) VALUES (?1, ?2, ?3)",
                    params![key, kind, data],
                )
                .map_err(sql("recording the scan"))?;
            }
        }
        let s = &report.summary;
        tx.execute(
            "INSERT INTO history_records (recorded_at, recorded_unix, collected_at, generated_at,
                 hvguard_version, hostname, root, critical, high, medium, low, info, unknown,
                 drift_changes, snapshot, report)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            params![
                options.recorded_at,
                options.recorded_unix,
                snapshot.collected_at,
                report.generated_at,
                options.hvguard_version,
                report.host.hostname,
                report.host.root,
                s.critical as i64,
                s.high as i64,
                s.medium as i64,
                s.low as i64,
                s.info as i64,
                report.unknown.len() as i64,
                options.drift_changes.map(|n| n as i64),
                snapshot_key,
                report_key,
            ],
        )
        .map_err(sql("recording the scan"))?;
        let id = tx.last_insert_rowid();
        // Retention never runs more than a day ahead of the previous record: a clock that
        // jumped years forward for one scan must not wipe the history.
        let now = match previous_unix {
            Some(p) => options.recorded_unix.min(p.saturating_add(86_400)),
            None => options.recorded_unix,
        };
        let cutoff = now.saturating_sub(i64::from(options.keep_days).saturating_mul(86_400));
        let pruned = prune(&tx, cutoff).map_err(sql("applying the retention policy"))?;
        tx.commit().map_err(sql("committing the record"))?;
        Ok(Recorded { id, pruned })
    }

    /// Every record, oldest first (by sequence).
    pub fn history(&self) -> Result<Vec<RecordSummary>, StoreError> {
        if !self.has_history()? {
            return Ok(Vec::new());
        }
        self.summaries("ORDER BY r.id", [])
    }

    /// The ids of the newest `n` records, newest first.
    pub fn latest_ids(&self, n: usize) -> Result<Vec<i64>, StoreError> {
        if !self.has_history()? {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM history_records ORDER BY id DESC LIMIT ?1")
            .map_err(|e| StoreError::sqlite(&self.path, "reading the history", e))?;
        let ids = stmt
            .query_map([n as i64], |row| row.get(0))
            .and_then(|rows| rows.collect::<Result<Vec<i64>, _>>())
            .map_err(|e| StoreError::sqlite(&self.path, "reading the history", e))?;
        Ok(ids)
    }

    /// The summary of record `id`.
    pub fn record_summary(&self, id: i64) -> Result<Option<RecordSummary>, StoreError> {
        if !self.has_history()? {
            return Ok(None);
        }
        Ok(self.summaries("WHERE r.id = ?1", [id])?.pop())
    }

    /// The blob keys of record `id`: two records with the same keys hold the same state.
    pub fn record_keys(&self, id: i64) -> Result<Option<(String, String)>, StoreError> {
        if !self.has_history()? {
            return Ok(None);
        }
        self.conn
            .query_row(
                "SELECT snapshot, report FROM history_records WHERE id = ?1",
                [id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(|e| StoreError::sqlite(&self.path, "reading the history", e))
    }

    /// Record `id` with its snapshot and report decoded.
    pub fn history_record(&self, id: i64) -> Result<Option<HistoryRecord>, StoreError> {
        let Some(meta) = self.record_summary(id)? else {
            return Ok(None);
        };
        let path = &self.path;
        let sql = |e| StoreError::sqlite(path, "reading the history", e);
        let (collected_at, generated_at, snapshot_key, report_key): (
            String,
            String,
            String,
            String,
        ) = self
            .conn
            .query_row(
                "SELECT collected_at, generated_at, snapshot, report FROM history_records
                     WHERE id = ?1",
                [id],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .map_err(sql)?;
        let mut snapshot: Snapshot = self.blob(id, &snapshot_key)?;
        if snapshot.schema != SNAPSHOT_SCHEMA {
            return Err(damaged(
                path,
                id,
                format!("unsupported snapshot schema `{}`", snapshot.schema),
            ));
        }
        snapshot.collected_at = collected_at;
        let mut report: Report = self.blob(id, &report_key)?;
        report.generated_at = generated_at;
        Ok(Some(HistoryRecord {
            meta,
            snapshot,
            report,
        }))
    }

    fn blob<T: serde::de::DeserializeOwned>(&self, id: i64, key: &str) -> Result<T, StoreError> {
        let path = &self.path;
        let data: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT data FROM history_blobs WHERE sha256 = ?1",
                [key],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| StoreError::sqlite(path, "reading the history", e))?;
        let data = data.ok_or_else(|| damaged(path, id, format!("state {key} is missing")))?;
        let json = codec::decompress(&data).map_err(|e| damaged(path, id, e.to_string()))?;
        serde_json::from_slice(&json).map_err(|e| damaged(path, id, e.to_string()))
    }

    /// Approves record `id` as the baseline.
    pub fn set_baseline(
        &mut self,
        id: i64,
        approved_at: &str,
        note: Option<&str>,
    ) -> Result<Baseline, StoreError> {
        let path = self.path.clone();
        let full = self.history_record(id)?.ok_or_else(|| StoreError::Record {
            path: path.clone(),
            id: id.to_string(),
            message: "no such history record".into(),
        })?;
        // The digests the integrity rule compares with, kept beside the baseline so that each
        // scan reads a few hundred bytes instead of decoding the whole record.
        let integrity = IntegrityBaseline {
            record: id,
            approved_at: approved_at.to_string(),
            kata_release: full
                .snapshot
                .kata_install
                .value()
                .map(|k| k.version.clone()),
            binaries: full.snapshot.integrity.binaries.clone(),
        };
        let integrity =
            serde_json::to_string(&integrity).map_err(|e| damaged(&path, id, e.to_string()))?;
        let record = full.meta;
        self.conn
            .execute(
                "INSERT OR REPLACE INTO history_baseline (slot, record, approved_at, note, integrity)
                 VALUES (1, ?1, ?2, ?3, ?4)",
                params![id, approved_at, note, integrity],
            )
            .map_err(|e| StoreError::sqlite(&path, "recording the baseline", e))?;
        Ok(Baseline {
            record: RecordSummary {
                baseline: true,
                ..record
            },
            approved_at: approved_at.to_string(),
            note: note.map(str::to_string),
        })
    }

    /// The approved baseline, if one was set.
    pub fn baseline(&self) -> Result<Option<Baseline>, StoreError> {
        if !self.has_history()? {
            return Ok(None);
        }
        let row: Option<(i64, String, Option<String>)> = self
            .conn
            .query_row(
                "SELECT record, approved_at, note FROM history_baseline WHERE slot = 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()
            .map_err(|e| StoreError::sqlite(&self.path, "reading the baseline", e))?;
        let Some((id, approved_at, note)) = row else {
            return Ok(None);
        };
        let record = self
            .record_summary(id)?
            .ok_or_else(|| damaged(&self.path, id, "the baseline's record is missing".into()))?;
        Ok(Some(Baseline {
            record,
            approved_at,
            note,
        }))
    }

    /// The baseline's binary digests, for `hypervisor.binary-modified` (`None` without a
    /// baseline).
    pub fn baseline_integrity(&self) -> Result<Option<IntegrityBaseline>, StoreError> {
        if !self.has_history()? {
            return Ok(None);
        }
        let row: Option<(i64, String)> = self
            .conn
            .query_row(
                "SELECT record, integrity FROM history_baseline WHERE slot = 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(|e| StoreError::sqlite(&self.path, "reading the baseline", e))?;
        row.map(|(id, json)| {
            serde_json::from_str(&json).map_err(|e| damaged(&self.path, id, e.to_string()))
        })
        .transpose()
    }

    fn summaries<P: rusqlite::Params>(
        &self,
        tail: &str,
        params: P,
    ) -> Result<Vec<RecordSummary>, StoreError> {
        let path = &self.path;
        let sql = format!(
            "SELECT r.id, r.recorded_at, r.hvguard_version, r.hostname, r.root, r.critical,
                    r.high, r.medium, r.low, r.info, r.unknown, r.drift_changes,
                    (SELECT COUNT(*) FROM history_baseline b WHERE b.record = r.id)
             FROM history_records r {tail}"
        );
        let mut stmt = self
            .conn
            .prepare(&sql)
            .map_err(|e| StoreError::sqlite(path, "reading the history", e))?;
        let count = |row: &rusqlite::Row<'_>, i: usize| -> rusqlite::Result<usize> {
            Ok(usize::try_from(row.get::<_, i64>(i)?).unwrap_or(0))
        };
        let rows = stmt
            .query_map(params, |row| {
                Ok(RecordSummary {
                    id: row.get(0)?,
                    recorded_at: row.get(1)?,
                    hvguard_version: row.get(2)?,
                    hostname: row.get(3)?,
                    root: row.get(4)?,
                    summary: Summary {
                        critical: count(row, 5)?,
                        high: count(row, 6)?,
                        medium: count(row, 7)?,
                        low: count(row, 8)?,
                        info: count(row, 9)?,
                    },
                    unknown: count(row, 10)? as u64,
                    drift_changes: row
                        .get::<_, Option<i64>>(11)?
                        .map(|n| u64::try_from(n).unwrap_or(0)),
                    baseline: row.get::<_, i64>(12)? > 0,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| StoreError::sqlite(path, "reading the history", e))?;
        Ok(rows)
    }
}

/// A scan's snapshot and report as the store keeps them: JSON without the per-run parts, and
/// the SHA-256 of each. Two scans of an unchanged host encode to the same keys.
#[derive(Debug, Clone)]
pub struct EncodedState {
    pub snapshot_key: String,
    snapshot_json: Vec<u8>,
    pub report_key: String,
    report_json: Vec<u8>,
}

impl EncodedState {
    /// Leaves out the timestamps (kept in the record row), the baseline digests (attached from
    /// the store at scan time) and the report's drift (derived from the records themselves).
    pub fn new(snapshot: &Snapshot, report: &Report) -> serde_json::Result<EncodedState> {
        let mut s = snapshot.clone();
        s.collected_at = String::new();
        s.integrity.baseline = None;
        let (snapshot_key, snapshot_json) = codec::encode_json(&s)?;
        let mut r = report.clone();
        r.generated_at = String::new();
        r.drift = None;
        let (report_key, report_json) = codec::encode_json(&r)?;
        Ok(EncodedState {
            snapshot_key,
            snapshot_json,
            report_key,
            report_json,
        })
    }
}

fn damaged(path: &Path, id: i64, message: String) -> StoreError {
    StoreError::Record {
        path: path.to_path_buf(),
        id: format!("history record {id}"),
        message,
    }
}

/// Removes records that come before, in sequence, the first record inside the retention
/// window, keeping the newest record and the baseline; then the states no record uses.
fn prune(conn: &Connection, cutoff_unix: i64) -> rusqlite::Result<u64> {
    let removed = conn.execute(
        "DELETE FROM history_records
         WHERE id < COALESCE(
                 (SELECT MIN(id) FROM history_records WHERE recorded_unix >= ?1),
                 (SELECT MAX(id) FROM history_records))
           AND id NOT IN (SELECT record FROM history_baseline)",
        [cutoff_unix],
    )?;
    if removed > 0 {
        conn.execute(
            "DELETE FROM history_blobs WHERE sha256 NOT IN
               (SELECT snapshot FROM history_records UNION SELECT report FROM history_records)",
            [],
        )?;
    }
    Ok(removed as u64)
}
