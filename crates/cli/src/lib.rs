//! The `hvguard` command line: argument parsing, command dispatch, exit codes.
//!
//! A library as well as the binary, so that `cargo xtask` builds the man pages and shell
//! completions from the very clap definition the binary parses with.
//!
//! Exit codes: 0 nothing at or above `--fail-on`; 1 findings at or above it; 2 usage or input
//! error, with a one-line cause on stderr.

pub mod args;
pub mod commands;
pub mod export;
mod history;
mod output;
mod pipeline;
mod states;

use clap::{CommandFactory, Parser};
use std::process::ExitCode;

/// The clap command of the binary (for man pages and completions).
pub fn command() -> clap::Command {
    args::Cli::command()
}

/// Parses the process arguments, runs the command, and turns the outcome into an exit code.
pub fn main() -> ExitCode {
    pipeline::mark_process_start();
    let cli = args::Cli::parse();
    match commands::run(cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            // One line: the whole cause chain, outermost first, each message once.
            output::error(&output::error_chain(&err));
            ExitCode::from(2)
        }
    }
}
