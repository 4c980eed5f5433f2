//! `hvguard fleet report PATH...`: many nodes' reports and update results folded into one
//! text, JSON (`hvguard.fleet/v1`) or self-contained HTML report (docs/fleet.md).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use hvguard_fleet::render::{render_html, render_json, render_text};

use super::Outcome;
use crate::output;

/// `hvguard fleet`.
#[derive(Debug, clap::Args)]
pub struct FleetArgs {
    #[command(subcommand)]
    pub command: FleetCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum FleetCommand {
    /// Fold node reports (`scan --format json`), update results and update statuses into one
    /// fleet report. Exit 2 only when nothing could be read.
    Report(ReportArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FleetFormat {
    Text,
    Json,
    Html,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Files or folders (walked recursively; `*.json` files in folders are read).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FleetFormat::Text)]
    pub format: FleetFormat,
    /// Write the report to FILE (atomically; a replaced file is kept as FILE.bak) instead of
    /// standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// A node whose latest report is older than this is named as outdated.
    #[arg(long, value_name = "HOURS", default_value_t = 24)]
    pub max_age: u64,
    /// Threads reading files (default: one per CPU).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

pub fn run(args: FleetArgs) -> Result<Outcome> {
    match args.command {
        FleetCommand::Report(args) => report(args),
    }
}

fn report(args: ReportArgs) -> Result<Outcome> {
    let mut options = hvguard_fleet::Options::new(jiff::Timestamp::now());
    options.max_age_hours = args.max_age;
    if let Some(jobs) = args.jobs {
        options.jobs = jobs.max(1);
    }
    let fleet = hvguard_fleet::aggregate(&args.paths, &options);
    let text = match args.format {
        FleetFormat::Text => render_text(&fleet),
        FleetFormat::Json => render_json(&fleet),
        FleetFormat::Html => render_html(&fleet),
    };
    match &args.out {
        Some(path) => {
            write_with_backup(path, text.as_bytes())?;
            eprintln!(
                "hvguard: fleet report of {} node(s) written to {}",
                fleet.nodes,
                path.display()
            );
        }
        None => output::print(&text)?,
    }
    if !fleet.read_anything() {
        // The report above still names every problem; the exit code says nothing was usable.
        eprintln!(
            "hvguard: error: no report, update result or update status could be read from {} \
             path(s) ({} problem(s) listed in the report)",
            args.paths.len(),
            fleet.problems.len()
        );
        return Ok(Outcome::Code(2));
    }
    Ok(Outcome::Clean)
}

/// Replaces `path` atomically, keeping what it held as `path.bak`.
fn write_with_backup(path: &Path, bytes: &[u8]) -> Result<()> {
    if path.is_file() {
        let mut backup = path.as_os_str().to_owned();
        backup.push(".bak");
        let backup = PathBuf::from(backup);
        // A hard link keeps the old file under the backup name without copying it; the
        // rename below then only replaces the directory entry of `path`.
        let _ = std::fs::remove_file(&backup);
        std::fs::hard_link(path, &backup)
            .or_else(|_| std::fs::copy(path, &backup).map(drop))
            .with_context(|| format!("{}: keeping the previous report", backup.display()))?;
    }
    hvguard_update::state::write_atomic(path, bytes)?;
    Ok(())
}
