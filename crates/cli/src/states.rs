//! What `diff` and `scan --baseline FILE` compare: a history record (by id or by name:
//! `latest`, `previous`, `baseline`), or a snapshot or report file written by hvguard.

use anyhow::{bail, Context, Result};
use hvguard_advisory::store::history::HistoryRecord;
use hvguard_advisory::store::Store;
use hvguard_core::{Report, Snapshot, REPORT_SCHEMA, SNAPSHOT_SCHEMA};
use std::io::Read;
use std::path::Path;

/// A file bigger than this is not a snapshot or report hvguard wrote.
const FILE_LIMIT: u64 = 64 << 20;

/// One side of a comparison, loaded.
#[derive(Debug, Clone)]
pub struct LoadedState {
    pub label: String,
    pub record: Option<i64>,
    pub at: Option<String>,
    pub snapshot: Option<Snapshot>,
    pub report: Option<Report>,
}

impl LoadedState {
    pub fn as_state(&self) -> hvguard_drift::State<'_> {
        hvguard_drift::State {
            label: &self.label,
            record: self.record,
            at: self.at.as_deref(),
            snapshot: self.snapshot.as_ref(),
            report: self.report.as_ref(),
        }
    }

    pub fn from_record(record: HistoryRecord, label: String) -> LoadedState {
        LoadedState {
            label,
            record: Some(record.meta.id),
            at: Some(record.meta.recorded_at.clone()),
            snapshot: Some(record.snapshot),
            report: Some(record.report),
        }
    }
}

/// How a state was named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateSpec {
    Record(i64),
    Latest,
    Previous,
    Baseline,
    File(std::path::PathBuf),
}

impl StateSpec {
    /// A number is a record id; `latest`, `previous` and `baseline` name records; anything
    /// else is a file.
    pub fn parse(text: &str) -> StateSpec {
        match text {
            "latest" | "last" => StateSpec::Latest,
            "previous" => StateSpec::Previous,
            "baseline" => StateSpec::Baseline,
            _ => match text.parse::<i64>() {
                Ok(id) if !Path::new(text).exists() => StateSpec::Record(id),
                _ => StateSpec::File(text.into()),
            },
        }
    }

    pub fn needs_store(&self) -> bool {
        !matches!(self, StateSpec::File(_))
    }
}

/// Loads a record-named state from `store`.
pub fn load_record(store: &Store, spec: &StateSpec) -> Result<LoadedState> {
    let path = store.path().display().to_string();
    let (id, label) = match spec {
        StateSpec::Record(id) => (*id, format!("record {id}")),
        StateSpec::Latest | StateSpec::Previous => {
            let nth = usize::from(*spec == StateSpec::Previous);
            let ids = store.latest_ids(nth + 1)?;
            let Some(id) = ids.get(nth) else {
                bail!(
                    "{path}: the history holds {} record(s); `{}` needs {}",
                    ids.len(),
                    if nth == 0 { "latest" } else { "previous" },
                    nth + 1
                );
            };
            (*id, format!("record {id}"))
        }
        StateSpec::Baseline => {
            let Some(baseline) = store.baseline()? else {
                bail!("{path}: no baseline approved yet (hvguard baseline set)");
            };
            let id = baseline.record.id;
            (id, format!("baseline (record {id})"))
        }
        StateSpec::File(file) => return load_file(file),
    };
    let Some(record) = store.history_record(id)? else {
        bail!("{path}: no history record {id}");
    };
    Ok(LoadedState::from_record(record, label))
}

/// Reads a snapshot (`hvguard collect`) or a JSON report (`hvguard scan --format json`),
/// recognised by its `schema`.
pub fn load_file(path: &Path) -> Result<LoadedState> {
    let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(FILE_LIMIT + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("{}", path.display()))?;
    if bytes.len() as u64 > FILE_LIMIT {
        bail!("{}: larger than {FILE_LIMIT} bytes", path.display());
    }
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).with_context(|| format!("{}: not JSON", path.display()))?;
    let schema = value
        .get("schema")
        .and_then(|s| s.as_str())
        .unwrap_or_default()
        .to_string();
    let label = path.display().to_string();
    match schema.as_str() {
        SNAPSHOT_SCHEMA => {
            let snapshot: Snapshot = serde_json::from_value(value)
                .with_context(|| format!("{}: not a hvguard snapshot", path.display()))?;
            Ok(LoadedState {
                label,
                record: None,
                at: Some(snapshot.collected_at.clone()),
                snapshot: Some(snapshot),
                report: None,
            })
        }
        REPORT_SCHEMA => {
            let report: Report = serde_json::from_value(value)
                .with_context(|| format!("{}: not a hvguard report", path.display()))?;
            Ok(LoadedState {
                label,
                record: None,
                at: Some(report.generated_at.clone()),
                snapshot: None,
                report: Some(report),
            })
        }
        other => bail!(
            "{}: schema `{other}` is neither `{SNAPSHOT_SCHEMA}` nor `{REPORT_SCHEMA}`",
            path.display()
        ),
    }
}
