//! `hvguard rules`: the catalogue.

use super::Outcome;
use crate::args::{RulesArgs, RulesFormat};
use crate::output;
use anyhow::Result;
use std::fmt::Write as _;

pub fn run(args: RulesArgs) -> Result<Outcome> {
    let rules = hvguard_audit::catalogue();
    let text = match args.format {
        RulesFormat::Json => {
            let metas: Vec<_> = rules.iter().map(|r| &r.meta).collect();
            let mut json = serde_json::to_string_pretty(&metas)?;
            json.push('\n');
            json
        }
        RulesFormat::Text => {
            let width = rules.iter().map(|r| r.meta.id.len()).max().unwrap_or(0);
            let mut out = String::new();
            for rule in &rules {
                let _ = writeln!(
                    out,
                    "{:<width$}  {:<8}  {}",
                    rule.meta.id,
                    rule.meta.severity.as_str(),
                    rule.meta.title
                );
            }
            let _ = writeln!(
                out,
                "{} rules; `hvguard explain <id>` shows a rule's page.",
                rules.len()
            );
            out
        }
    };
    output::print(&text)?;
    Ok(Outcome::Clean)
}
