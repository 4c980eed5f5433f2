//! `hvguard hypervisors compare`: every hypervisor Kata supports side by side (reviewed facts,
//! advisory records, this host's use), as text, JSON (`hvguard.compare/v1`) or a Markdown
//! selection rationale (docs/choosing-a-hypervisor.md).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use hvguard_advisory::policy::Policy;
use hvguard_advisory::store::{store_path, AdvisoryOrigin};
use hvguard_compare::model::AdvisoriesFrom;
use hvguard_compare::previous::MAX_DOCUMENT;
use hvguard_compare::render::{markdown, text};
use hvguard_compare::{compare, parse_previous, shipped_facts, CompareInput, Since};
use hvguard_core::Snapshot;

use super::Outcome;
use crate::{output, pipeline};

/// `hvguard hypervisors ...`.
#[derive(Debug, clap::Args)]
pub struct HypervisorsArgs {
    #[command(subcommand)]
    pub command: HypervisorsCommand,
}

/// The `hypervisors` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum HypervisorsCommand {
    /// Compare every hypervisor Kata supports: facts with sources, advisory records, and
    /// whether this host uses the strongest one for its workloads.
    Compare(CompareArgs),
}

/// `hvguard hypervisors compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Output format: `markdown` writes a selection-rationale document to commit.
    #[arg(long, value_enum, default_value_t = CompareFormat::Text)]
    pub format: CompareFormat,
    #[command(flatten)]
    pub root: crate::args::RootArg,
    /// Compare for a Snapshot written by `hvguard collect` instead of reading a host.
    #[arg(long, value_name = "FILE", conflicts_with = "root")]
    pub snapshot: Option<PathBuf>,
    #[command(flatten)]
    pub source: crate::args::AdvisorySourceArgs,
    /// Use only what ships inside hvguard (the advisory snapshot), ignoring any store
    /// (`--db`, HVGUARD_DB): the same figures on every machine.
    #[arg(long)]
    pub offline: bool,
    /// Show what is new since this day (YYYY-MM-DD): advisories published after it.
    #[arg(long, value_name = "DATE", value_parser = parse_date, conflicts_with = "previous")]
    pub since: Option<jiff::civil::Date>,
    /// Show what is new since a document an earlier `--format markdown` run wrote: the
    /// advisories it did not count.
    #[arg(long, value_name = "FILE")]
    pub previous: Option<PathBuf>,
}

/// `compare` output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompareFormat {
    /// For people at a terminal.
    Text,
    /// For tools (`hvguard.compare/v1`).
    Json,
    /// A selection-rationale document.
    Markdown,
}

fn parse_date(text: &str) -> Result<jiff::civil::Date, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a date (YYYY-MM-DD)"))
}

/// Runs `hvguard hypervisors ...`.
pub fn run(args: HypervisorsArgs) -> Result<Outcome> {
    match args.command {
        HypervisorsCommand::Compare(args) => run_compare(args),
    }
}

fn run_compare(args: CompareArgs) -> Result<Outcome> {
    let facts = shipped_facts()?;
    let since = match (&args.previous, args.since) {
        (Some(path), _) => Some(read_previous(path)?),
        (None, Some(date)) => Some(Since::date(date)),
        (None, None) => None,
    };
    let snapshot = snapshot(&args)?;
    let (advisories, from) = if args.offline {
        (hvguard_advisory::shipped_snapshot()?, shipped())
    } else {
        let path = store_path(args.source.db.as_deref())?;
        let (advisories, origin) = hvguard_advisory::store::load_advisories(&path)?;
        let from = match origin {
            AdvisoryOrigin::Store(p) => AdvisoriesFrom {
                source: "store",
                store: Some(p),
                count: 0,
            },
            AdvisoryOrigin::Shipped => {
                output::note(&format!(
                    "no advisories in {}; using the shipped snapshot",
                    path.display()
                ));
                shipped()
            }
        };
        (advisories, from)
    };
    let policy = Policy::resolve(args.source.policy.as_deref())?;
    let comparison = compare(CompareInput {
        facts: &facts,
        advisories: &advisories,
        advisories_from: from,
        snapshot: &snapshot,
        policy: &policy,
        today: jiff::Zoned::now().date(),
        generated_at: pipeline::now(),
        since,
    });
    // Paths, versions and advisory summaries come from the host and the feeds: printed
    // terminal-safe, like every other command's output.
    match args.format {
        CompareFormat::Text => output::print_text(&text::render(&comparison))?,
        CompareFormat::Markdown => output::print_text(&markdown::render(&comparison))?,
        CompareFormat::Json => {
            output::print_json(&format!("{}\n", serde_json::to_string_pretty(&comparison)?))?
        }
    }
    Ok(Outcome::Clean)
}

fn shipped() -> AdvisoriesFrom {
    AdvisoriesFrom {
        source: "shipped",
        store: None,
        count: 0,
    }
}

fn snapshot(args: &CompareArgs) -> Result<Snapshot> {
    if let Some(path) = &args.snapshot {
        let snapshot = pipeline::read_snapshot(path)?;
        pipeline::warn(&snapshot.warnings);
        return Ok(snapshot);
    }
    let root = pipeline::open_root(&args.root.root)?;
    let collected = pipeline::collect(&root);
    // A root where nothing could be read would otherwise read as "nothing installed here".
    pipeline::ensure_something_read(&collected.snapshot)?;
    pipeline::warn(&collected.snapshot.warnings);
    // A broken Kata file leaves that configuration out of the host view: warn, still compare
    // (as `advisories` does).
    pipeline::warn(&collected.errors);
    Ok(collected.snapshot)
}

/// Reads a previous document: a regular file (a FIFO would hang the run), bounded (a real
/// one is a few tens of KiB).
fn read_previous(path: &Path) -> Result<Since> {
    let bytes = match hvguard_core::operator_file::read_regular(path, MAX_DOCUMENT as u64) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => bail!(
            "{}: larger than {MAX_DOCUMENT} bytes: not a comparison document",
            path.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("{}", path.display())),
    };
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("{}: not UTF-8 text", path.display()))?;
    Ok(parse_previous(path, &text)?)
}
