//! `hvguard audit --config FILE...`: the configuration rules only, on explicit files.

use super::Outcome;
use crate::args::AuditArgs;
use crate::{output, pipeline};
use anyhow::Result;

pub fn run(args: AuditArgs) -> Result<Outcome> {
    let (configs, warnings) = hvguard_kata::load_explicit_with_warnings(&args.configs)?;
    pipeline::warn(&warnings);
    let snapshot = pipeline::config_snapshot(configs);
    let report = pipeline::evaluate_configs(&snapshot, pipeline::now());
    output::print(&output::render(
        &report,
        args.output.format,
        args.output.color,
    ))?;
    Ok(Outcome::from_report(&report, args.output.fail_on))
}
