//! `hvguard diff [OLD [NEW]] [--format text|json] [--fail-on SEVERITY]`: what changed between two
//! states (docs/drift-and-integrity.md). A state is a record id, `latest`, `previous`,
//! `baseline`, or a snapshot or JSON report file. Default: the last two records; one argument
//! is compared with the latest record.

use std::path::PathBuf;

use anyhow::{bail, Result};
use hvguard_advisory::store::{store_path, Store};
use hvguard_core::{DriftReference, Severity};

use super::Outcome;
use crate::args::ColorChoice;
use crate::states::{load_record, LoadedState, StateSpec};

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The earlier state (default: `previous`).
    #[arg(value_name = "OLD")]
    pub old: Option<String>,
    /// The later state (default: `latest`).
    #[arg(value_name = "NEW")]
    pub new: Option<String>,
    /// The store holding the records (default: as for `scan`).
    #[arg(long, value_name = "FILE", env = "HVGUARD_DB", hide_env_values = true)]
    pub db: Option<PathBuf>,
    /// Accepted risks, for snapshot files (evaluated before comparing).
    #[arg(
        long,
        value_name = "FILE",
        env = "HVGUARD_POLICY",
        hide_env_values = true
    )]
    pub policy: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,
    /// Exit with 1 when a change is at or above this severity (see the drift severities in
    /// docs/drift-and-integrity.md).
    #[arg(long, value_name = "SEVERITY", default_value = "high", value_parser = parse_severity)]
    pub fail_on: Severity,
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    Text,
    Json,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse::<Severity>().map_err(|e| e.to_string())
}

pub fn run(args: DiffArgs) -> Result<Outcome> {
    let old_spec = StateSpec::parse(args.old.as_deref().unwrap_or("previous"));
    let new_spec = StateSpec::parse(args.new.as_deref().unwrap_or("latest"));
    let path = store_path(args.db.as_deref())?;
    let store = if old_spec.needs_store() || new_spec.needs_store() {
        if !path.exists() {
            bail!(
                "{}: no history store (record scans with `hvguard scan --record`, or compare two files)",
                path.display()
            );
        }
        Some(Store::open_readonly(&path)?)
    } else {
        None
    };
    let mut old = load(store.as_ref(), &old_spec)?;
    let mut new = load(store.as_ref(), &new_spec)?;
    for state in [&mut old, &mut new] {
        evaluate_snapshot_file(state, &args)?;
    }
    let reference = match old_spec {
        StateSpec::Baseline => DriftReference::Baseline,
        _ if args.old.is_none() => DriftReference::Previous,
        _ => DriftReference::Given,
    };
    let diff = hvguard_drift::diff(reference, &old.as_state(), &new.as_state());
    let out = match args.format {
        DiffFormat::Json => hvguard_report::render_diff_json(&diff),
        DiffFormat::Text => {
            hvguard_report::render_diff_text(&diff, crate::output::text_style(args.color))
        }
    };
    crate::output::print(&out)?;
    Ok(if diff.summary.reaches(args.fail_on) {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

fn load(store: Option<&Store>, spec: &StateSpec) -> Result<LoadedState> {
    match (spec, store) {
        (StateSpec::File(path), _) => crate::states::load_file(path),
        (_, Some(store)) => load_record(store, spec),
        (_, None) => bail!("a record needs the history store"),
    }
}

/// A snapshot file has facts but no findings: evaluate it now (with today's advisories and
/// policy) so that findings can be compared too.
fn evaluate_snapshot_file(state: &mut LoadedState, args: &DiffArgs) -> Result<()> {
    if state.report.is_some() {
        return Ok(());
    }
    let Some(snapshot) = &state.snapshot else {
        return Ok(());
    };
    let advisories =
        crate::pipeline::AdvisoryInput::load(args.db.as_deref(), args.policy.as_deref())?;
    let at = snapshot.collected_at.clone();
    state.report = Some(crate::pipeline::evaluate(snapshot, &advisories, at));
    Ok(())
}
