//! One module per command.

pub mod advisories;
mod audit;
mod collect;
pub mod db;
mod db_build;
mod explain;
mod harden;
pub mod hypervisors;
mod rules;
mod scan;

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
        Command::Hypervisors(args) => hypervisors::run(args),
    }
}
