//! `hvguard scan`: collect (or read a snapshot), evaluate, render.

use super::Outcome;
use crate::args::ScanArgs;
use crate::{output, pipeline};
use anyhow::Result;

pub fn run(args: ScanArgs) -> Result<Outcome> {
    let snapshot = match &args.snapshot {
        Some(path) => pipeline::read_snapshot(path)?,
        None => pipeline::collect(&pipeline::open_root(&args.root.root)?),
    };
    let report = pipeline::evaluate(&snapshot, pipeline::now());
    output::print(&output::render(
        &report,
        args.output.format,
        args.output.color,
    ))?;
    Ok(match report.worst() {
        Some(worst) if worst >= args.output.fail_on => Outcome::Findings,
        _ => Outcome::Clean,
    })
}
