//! `hvguard baseline set [RECORD] [--note TEXT]` and `hvguard baseline show`: the approved state
//! that `scan --baseline`, `diff baseline ...` and `hypervisor.binary-modified` compare with.

use std::path::PathBuf;

use anyhow::{bail, Result};
use hvguard_advisory::store::history::Baseline;
use hvguard_advisory::store::{store_path, Store};

use super::history::ListFormat;
use super::Outcome;
use crate::states::StateSpec;

pub const BASELINE_SCHEMA: &str = "hvguard.baseline/v1";

#[derive(Debug, clap::Args)]
pub struct BaselineArgs {
    /// The store (default: as for `scan`).
    #[arg(
        long,
        value_name = "FILE",
        env = "HVGUARD_DB",
        hide_env_values = true,
        global = true
    )]
    pub db: Option<PathBuf>,
    #[command(subcommand)]
    pub command: BaselineCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum BaselineCommand {
    /// Approve a recorded scan (default: the latest) as the baseline.
    Set {
        /// A record id, or `latest` / `previous`.
        #[arg(value_name = "RECORD", default_value = "latest")]
        record: String,
        /// Why this state is approved (kept with the baseline).
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
    },
    /// Show the approved baseline.
    Show {
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
    },
}

pub fn run(args: BaselineArgs) -> Result<Outcome> {
    let path = store_path(args.db.as_deref())?;
    match args.command {
        BaselineCommand::Set { record, note } => {
            if !path.exists() {
                bail!(
                    "{}: no store yet: record a scan first (hvguard scan --record)",
                    path.display()
                );
            }
            let (mut store, _lock) = Store::open_for_history(&path)?;
            let id = match StateSpec::parse(&record) {
                StateSpec::Record(id) => id,
                spec @ (StateSpec::Latest | StateSpec::Previous) => {
                    crate::states::load_record(&store, &spec)?
                        .record
                        .unwrap_or_default()
                }
                _ => bail!("`{record}` is not a record id, `latest` or `previous`"),
            };
            let baseline = store.set_baseline(id, &crate::pipeline::now(), note.as_deref())?;
            crate::output::print(&show_text(&path, &baseline))?;
        }
        BaselineCommand::Show { format } => {
            let baseline = if path.exists() {
                Store::open_readonly(&path)?.baseline()?
            } else {
                None
            };
            let out = match (format, &baseline) {
                (ListFormat::Json, _) => {
                    let view = serde_json::json!({
                        "schema": BASELINE_SCHEMA,
                        "store": path.display().to_string(),
                        "baseline": baseline,
                    });
                    serde_json::to_string_pretty(&view)? + "\n"
                }
                (ListFormat::Text, Some(b)) => show_text(&path, b),
                (ListFormat::Text, None) => format!(
                    "no baseline approved in {} (hvguard baseline set)\n",
                    path.display()
                ),
            };
            crate::output::print(&out)?;
        }
    }
    Ok(Outcome::Clean)
}

fn show_text(path: &std::path::Path, b: &Baseline) -> String {
    let r = &b.record;
    let s = &r.summary;
    let mut out = format!(
        "baseline in {}: record {} recorded {} on {}, approved {}\n  findings: {} critical, {} high, {} medium, {} low, {} info\n",
        path.display(),
        r.id,
        r.recorded_at,
        r.hostname.as_deref().unwrap_or("?"),
        b.approved_at,
        s.critical,
        s.high,
        s.medium,
        s.low,
        s.info
    );
    if let Some(note) = &b.note {
        out.push_str(&format!("  note: {note}\n"));
    }
    out
}
