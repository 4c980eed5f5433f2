//! Command-line surface (DESIGN.md §6). Names here are a contract: keep them.

use clap::{Args, Parser, Subcommand, ValueEnum};
use hvguard_core::Severity;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "hvguard",
    version,
    about = "Keeps the hypervisor layer of Kata Containers hosts secure",
    long_about = "Keeps the hypervisor layer of Kata Containers hosts secure: host features (KVM, IOMMU, \
                  Secure Boot, CPU mitigations), hypervisor inventory, Kata/containerd configuration audit.\n\n\
                  Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it, 2 usage or input error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Collect facts from a host root, evaluate every rule and print the report.
    Scan(ScanArgs),
    /// Collect facts and print the Snapshot as JSON (evaluate it later with `scan --snapshot`).
    Collect(CollectArgs),
    /// Audit Kata configuration files (each with its drop-ins); no host checks.
    Audit(AuditArgs),
    /// Build a hardened drop-in from the findings: a dry run by default, `--write` to apply.
    Harden(HardenArgs),
    /// Inspect and fill the advisory store.
    Db(crate::commands::db::DbArgs),
    /// List the advisories that affect this host.
    Advisories(crate::commands::advisories::AdvisoriesArgs),
    /// List the rule catalogue.
    Rules(RulesArgs),
    /// Print the documentation page of a rule.
    Explain(ExplainArgs),
    /// Update the hypervisor layer: status, apply, rollback, drill, history.
    Update(crate::commands::update::UpdateArgs),
    // History and drift (docs/drift-and-integrity.md).
    /// List the scans recorded with `scan --record`.
    History(crate::commands::history::HistoryArgs),
    /// Show what changed between two records, snapshots or reports (default: the last two records).
    Diff(crate::commands::diff::DiffArgs),
    /// Approve a recorded scan as the baseline, or show the baseline.
    Baseline(crate::commands::baseline::BaselineArgs),
    /// Boot the hypervisor with a Kata configuration's settings and wait for the guest to
    /// reach userspace (exit 0 booted, 1 did not boot).
    Smoke(crate::commands::smoke::SmokeArgs),
    /// Boot times of two hypervisor builds, or of one without and with a security feature.
    Bench(crate::commands::bench::BenchArgs),
    /// Compare the hypervisors Kata supports (`hypervisors compare`).
    Hypervisors(crate::commands::hypervisors::HypervisorsArgs),
    // Fleet (docs/fleet.md).
    /// Fold many nodes' reports and update results into one fleet report (text, JSON, HTML).
    Fleet(crate::commands::fleet::FleetArgs),
}

#[derive(Debug, Args)]
pub struct RootArg {
    /// The host root to read: `/` (the live host) or a mounted image / fixture directory.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
    // Prometheus text exposition: the metrics `--textfile-dir` writes.
    Prometheus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Exit with 1 when a finding is at or above this severity.
    #[arg(long, value_name = "SEVERITY", default_value = "high", value_parser = parse_severity)]
    pub fail_on: Severity,
    /// Colour in the text report (`auto`: only on a terminal and when NO_COLOR is unset).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub root: RootArg,
    /// Evaluate a Snapshot written by `hvguard collect` instead of reading a host.
    #[arg(long, value_name = "FILE", conflicts_with = "root")]
    pub snapshot: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Never touch the network (the advisory step uses only the local store).
    #[arg(long)]
    pub offline: bool,
    #[command(flatten)]
    pub advisories: AdvisorySourceArgs,
    #[command(flatten)]
    pub export: crate::export::ExportArgs,
    /// Keep this scan (snapshot and report) in the store's history, and report the drift since
    /// the previous record.
    #[arg(long)]
    pub record: bool,
    /// Report the drift from the approved baseline (`hvguard baseline set`), or from FILE (a
    /// snapshot or report written by hvguard).
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    pub baseline: Option<Option<PathBuf>>,
    /// List every advisory that could not be judged, with its reason (text format; by
    /// default one line per package).
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Read and hash every file of the hypervisor layer: use no cached digest (neither the
    /// store's nor the cache file's) and no cached binary fact (version banners, device type
    /// names), and save none.
    #[arg(long, visible_alias = "no-digest-cache")]
    pub no_cache: bool,
}

/// Where advisories and accepted risks come from (`scan`, `advisories`).
#[derive(Debug, Args)]
pub struct AdvisorySourceArgs {
    /// The advisory store (default: /var/lib/hvguard/advisories.db as root, else the XDG
    /// data folder); without one, the snapshot shipped inside hvguard is used.
    #[arg(long, value_name = "FILE", env = "HVGUARD_DB", hide_env_values = true)]
    pub db: Option<PathBuf>,
    /// Accepted risks (default: /etc/hvguard/policy.toml when it exists).
    #[arg(
        long,
        value_name = "FILE",
        env = "HVGUARD_POLICY",
        hide_env_values = true
    )]
    pub policy: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    #[command(flatten)]
    pub root: RootArg,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// A Kata configuration file; its `config.d/` drop-ins are merged.
    #[arg(long = "config", value_name = "FILE", required = true)]
    pub configs: Vec<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct HardenArgs {
    #[command(flatten)]
    pub root: RootArg,
    /// Harden these files (read from the running host) instead of every discovered one.
    #[arg(long = "config", value_name = "FILE")]
    pub configs: Vec<PathBuf>,
    /// Show what would change (the default).
    #[arg(long, conflicts_with = "write")]
    pub dry_run: bool,
    /// Write the drop-in (or, for releases without drop-in support, the hardened copy).
    #[arg(long)]
    pub write: bool,
    /// The Kata release, when `/opt/kata/VERSION` does not say (decides drop-in support).
    #[arg(long, value_name = "VERSION")]
    pub kata_release: Option<String>,
    /// Boot each configuration with the hardened settings first (as `hvguard smoke` does, with
    /// the policy's [smoke] defaults); refuse to harden one that then no longer boots.
    #[arg(long)]
    pub verify: bool,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    #[arg(long, value_enum, default_value_t = RulesFormat::Text)]
    pub format: RulesFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RulesFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A rule id, e.g. `host.kvm-device-permissions`.
    pub rule: String,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse::<Severity>().map_err(|e| e.to_string())
}
