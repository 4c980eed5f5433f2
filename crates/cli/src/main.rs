//! The `hvguard` binary: argument parsing, command dispatch, exit codes.
//!
//! Exit codes: 0 nothing at or above `--fail-on`; 1 findings at or above it; 2 usage or input
//! error, with a one-line cause on stderr.

mod args;
mod commands;
mod history;
mod output;
mod pipeline;
mod states;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match commands::run(cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            // One line: the whole cause chain, outermost first.
            let chain: Vec<String> = err.chain().map(|c| c.to_string()).collect();
            eprintln!("hvguard: error: {}", chain.join(": "));
            ExitCode::from(2)
        }
    }
}
