//! One module per command.

pub mod advisories;
mod audit;
pub mod baseline;
pub mod bench;
mod collect;
pub mod db;
mod db_build;
mod db_export;
pub mod diff;
mod explain;
pub mod fleet;
mod harden;
mod harden_verify;
pub mod history;
pub mod hypervisors;
mod rules;
mod scan;
pub mod smoke;
pub mod update;

use crate::args::{Cli, Command};
use anyhow::Result;
use std::process::ExitCode;

/// What a successful command means for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing at or above the threshold.
    Clean,
    /// Findings at or above `--fail-on`.
    Findings,
    /// A command with its own exit-code contract (`update`: 0/1/2).
    Code(u8),
}

impl Outcome {
    /// `Findings` when the worst finding is at or above `fail_on`.
    pub fn from_report(report: &hvguard_core::Report, fail_on: hvguard_core::Severity) -> Outcome {
        match report.worst() {
            Some(worst) if worst >= fail_on => Outcome::Findings,
            _ => Outcome::Clean,
        }
    }

    pub fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Clean => ExitCode::SUCCESS,
            Outcome::Findings => ExitCode::from(1),
            Outcome::Code(code) => ExitCode::from(code),
        }
    }
}

pub fn run(cli: Cli) -> Result<Outcome> {
    match cli.command {
        Command::Scan(args) => scan::run(args),
        Command::Collect(args) => collect::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Harden(args) => harden::run(args),
        Command::Db(args) => db::run(args),
        Command::Advisories(args) => advisories::run(args),
        Command::Rules(args) => rules::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Update(args) => update::run(args),
        Command::History(args) => history::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Baseline(args) => baseline::run(args),
        Command::Smoke(args) => smoke::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Hypervisors(args) => hypervisors::run(args),
        Command::Fleet(args) => fleet::run(args),
    }
}
