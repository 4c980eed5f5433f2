//! Where the report goes and how it looks: stdout carries only the report.

use crate::args::{ColorChoice, Format};
use hvguard_core::Report;
use hvguard_report::{render_json, render_sarif, render_text, SarifRule, TextStyle};
use std::io::{IsTerminal, Write};

/// Documentation base for SARIF `helpUri`s.
const DOCS_BASE: &str = "https://github.com/hvguard/hvguard/blob/main/docs/rules/";

pub fn render(report: &Report, format: Format, color: ColorChoice) -> String {
    render_with(report, format, color, false)
}

/// Like [`render`]; `verbose` lists every unknown advisory in the text report.
pub fn render_with(report: &Report, format: Format, color: ColorChoice, verbose: bool) -> String {
    match format {
        Format::Text => render_text(
            report,
            TextStyle {
                verbose,
                ..text_style(color)
            },
        ),
        Format::Json => render_json(report),
        Format::Sarif => render_sarif(report, &sarif_rules(), DOCS_BASE),
    }
}

fn text_style(color: ColorChoice) -> TextStyle {
    let colour = match color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    };
    TextStyle {
        colour,
        verbose: false,
    }
}

fn sarif_rules() -> Vec<SarifRule> {
    hvguard_audit::catalogue()
        .into_iter()
        .map(|r| SarifRule {
            id: r.meta.id.to_string(),
            title: r.meta.title.to_string(),
            severity: r.meta.severity,
            fires_when: r.meta.fires_when.to_string(),
            remediation: r.meta.remediation.to_string(),
            references: r.meta.references.iter().map(|s| s.to_string()).collect(),
        })
        .collect()
}

/// Writes to stdout; a closed pipe (`hvguard scan | head`) is not an error worth a panic.
pub fn print(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
