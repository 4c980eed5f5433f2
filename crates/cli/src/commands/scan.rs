//! `hvguard scan`: collect (or read a snapshot), evaluate, render.

use super::Outcome;
use crate::args::{Format, ScanArgs};
use crate::{export, output, pipeline};
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
    let nfd_policy = &advisories.policy.nfd;
    let metrics = export::metrics_input(&report, errors.len(), nfd_policy);
    let text = match args.output.format {
        Format::Prometheus => hvguard_report::render_prometheus(&report, &metrics),
        format => output::render(&report, format, args.output.color),
    };
    output::print(&text)?;
    let published = export::publish(&args.export, &report, &metrics, nfd_policy);
    if let (false, Err(e)) = (errors.is_empty(), &published) {
        eprintln!("hvguard: error: {e:#}");
    }
    // A configuration that exists but cannot be parsed is an input error: the report above
    // covers everything else, and the exit code says an input was broken.
    pipeline::fail_on_errors(&errors)?;
    published?;
    Ok(Outcome::from_report(&report, args.output.fail_on))
}
