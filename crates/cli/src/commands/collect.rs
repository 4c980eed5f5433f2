//! `hvguard collect`: the Snapshot as JSON on stdout, for `scan --snapshot` or a fleet server.

use super::Outcome;
use crate::args::CollectArgs;
use crate::{output, pipeline};
use anyhow::Result;

pub fn run(args: CollectArgs) -> Result<Outcome> {
    let collected = pipeline::collect(&pipeline::open_root(&args.root.root)?);
    pipeline::ensure_something_read(&collected.snapshot)?;
    pipeline::warn(&collected.snapshot.warnings);
    let mut json = serde_json::to_string_pretty(&collected.snapshot)?;
    json.push('\n');
    output::print_json(&json)?;
    pipeline::fail_on_errors(&collected.errors)?;
    Ok(Outcome::Clean)
}
