//! `hvguard scan`: collect (or read a snapshot), evaluate, render.

use super::Outcome;
use crate::args::ScanArgs;
use crate::{output, pipeline};
use anyhow::Result;

pub fn run(args: ScanArgs) -> Result<Outcome> {
    let (snapshot, errors) = match &args.snapshot {
        Some(path) => (pipeline::read_snapshot(path)?, Vec::new()),
        None => {
            let collected = pipeline::collect(&pipeline::open_root(&args.root.root)?);
            (collected.snapshot, collected.errors)
        }
    };
    pipeline::warn(&snapshot.warnings);
    let advisories = pipeline::AdvisoryInput::load(
        args.advisories.db.as_deref(),
        args.advisories.policy.as_deref(),
    )?;
    let report = pipeline::evaluate(&snapshot, &advisories, pipeline::now());
    output::print(&output::render_with(
        &report,
        args.output.format,
        args.output.color,
        args.verbose,
    ))?;
    // A configuration that exists but cannot be parsed is an input error: the report above
    // covers everything else, and the exit code says an input was broken.
    pipeline::fail_on_errors(&errors)?;
    Ok(Outcome::from_report(&report, args.output.fail_on))
}
