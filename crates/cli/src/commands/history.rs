//! `hvguard history [--format text|json]`: the scans recorded with `scan --record`, oldest
//! first, in recording order (ids), whatever the clock said.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Result;
use hvguard_advisory::store::history::RecordSummary;
use hvguard_advisory::store::{store_path, Store};

use super::Outcome;

pub const HISTORY_SCHEMA: &str = "hvguard.history/v1";

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// The store (default: as for `scan`).
    #[arg(long, value_name = "FILE", env = "HVGUARD_DB", hide_env_values = true)]
    pub db: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
    /// Only the newest N records.
    #[arg(long, value_name = "N")]
    pub last: Option<usize>,
}

/// Output formats of `history` and `baseline show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
}

pub fn run(args: HistoryArgs) -> Result<Outcome> {
    let path = store_path(args.db.as_deref())?;
    let mut records = if path.exists() {
        Store::open_readonly(&path)?.history()?
    } else {
        Vec::new()
    };
    if let Some(n) = args.last {
        records.drain(..records.len().saturating_sub(n));
    }
    let out = match args.format {
        ListFormat::Json => render_json(&path, &records)?,
        ListFormat::Text => render_text(&path, &records),
    };
    crate::output::print(&out)?;
    Ok(Outcome::Clean)
}

#[derive(serde::Serialize)]
struct HistoryView<'a> {
    schema: &'static str,
    store: String,
    records: &'a [RecordSummary],
}

fn render_json(path: &std::path::Path, records: &[RecordSummary]) -> Result<String> {
    let view = HistoryView {
        schema: HISTORY_SCHEMA,
        store: path.display().to_string(),
        records,
    };
    Ok(serde_json::to_string_pretty(&view)? + "\n")
}

/// One line per record; a record stamped earlier than the one before it is marked, since
/// that means the clock went backwards between them.
pub fn render_text(path: &std::path::Path, records: &[RecordSummary]) -> String {
    let mut out = String::with_capacity(128 + records.len() * 96);
    if records.is_empty() {
        let _ = writeln!(
            out,
            "no records in {} (record scans with `hvguard scan --record`)",
            path.display()
        );
        return out;
    }
    let _ = writeln!(out, "{} record(s) in {}", records.len(), path.display());
    let _ = writeln!(
        out,
        "{:>6}  {:<25} {:<20} {:>4} {:>4} {:>4} {:>4} {:>4} {:>7} {:>6}",
        "id", "recorded", "host", "crit", "high", "med", "low", "info", "unknown", "drift"
    );
    let mut previous: Option<&str> = None;
    for r in records {
        let s = &r.summary;
        let drift = r
            .drift_changes
            .map_or_else(|| "-".to_string(), |n| n.to_string());
        let mut notes = Vec::new();
        if r.baseline {
            notes.push("baseline");
        }
        if previous.is_some_and(|p| r.recorded_at.as_str() < p) {
            notes.push("clock went backwards");
        }
        let host: String = r
            .hostname
            .as_deref()
            .unwrap_or("?")
            .chars()
            .take(20)
            .collect();
        let _ = write!(
            out,
            "{:>6}  {:<25} {:<20} {:>4} {:>4} {:>4} {:>4} {:>4} {:>7} {:>6}",
            r.id,
            r.recorded_at,
            host,
            s.critical,
            s.high,
            s.medium,
            s.low,
            s.info,
            r.unknown,
            drift
        );
        if !notes.is_empty() {
            let _ = write!(out, "  [{}]", notes.join(", "));
        }
        out.push('\n');
        previous = Some(&r.recorded_at);
    }
    out
}
