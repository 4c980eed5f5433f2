//! `hvguard explain ID`: the rule's documentation page, embedded in the binary.

use super::Outcome;
use crate::args::ExplainArgs;
use crate::output;
use anyhow::{bail, Result};

pub fn run(args: ExplainArgs) -> Result<Outcome> {
    match hvguard_audit::rule_doc(&args.rule) {
        Some(page) => {
            output::print(page)?;
            Ok(Outcome::Clean)
        }
        None => bail!("unknown rule `{}` (see `hvguard rules`)", args.rule),
    }
}
