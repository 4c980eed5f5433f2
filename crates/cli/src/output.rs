//! Where the report goes and how it looks: stdout carries only the report, stderr the
//! notes, warnings and errors. Everything here is the output edge: text that came from the
//! scanned system or a feed is made terminal-safe (`hvguard_core::escape`) on its way out.

use crate::args::{ColorChoice, Format};
use hvguard_core::escape::{escape, escape_json, escape_lines};
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
        // The text renderer escapes each host-supplied field itself (its colours are ours).
        Format::Text => render_text(
            report,
            TextStyle {
                verbose,
                ..text_style(color)
            },
        ),
        Format::Json => escape_json(&render_json(report)).into_owned(),
        Format::Sarif => escape_json(&render_sarif(report, &sarif_rules(), DOCS_BASE)).into_owned(),
        // Without scan's context (policy, broken inputs): the report's own metrics only.
        Format::Prometheus => hvguard_report::render_prometheus(
            report,
            &hvguard_report::MetricsInput {
                hvguard_version: env!("CARGO_PKG_VERSION").to_string(),
                ..hvguard_report::MetricsInput::default()
            },
        ),
    }
}

pub fn text_style(color: ColorChoice) -> TextStyle {
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

/// Prints text hvguard laid out (one line per item) whose items came from the host or a
/// feed: every terminal control but the line feeds is escaped.
pub fn print_text(text: &str) -> std::io::Result<()> {
    print(&escape_lines(text))
}

/// Prints JSON, with the characters JSON leaves raw but terminals act on escaped.
pub fn print_json(json: &str) -> std::io::Result<()> {
    print(&escape_json(json))
}

/// `hvguard: MESSAGE` on stderr, on one line, terminal-safe.
pub fn note(message: &str) {
    eprintln!("hvguard: {}", escape(message));
}

/// `hvguard: warning: MESSAGE` on stderr, on one line, terminal-safe.
pub fn warn(message: &str) {
    eprintln!("hvguard: warning: {}", escape(message));
}

/// `hvguard: error: MESSAGE` on stderr, on one line, terminal-safe.
pub fn error(message: &str) {
    eprintln!("hvguard: error: {}", escape(message));
}

/// An error and its causes on one line, outermost first, each message once.
///
/// A library error whose message already ends with its cause's message (the usual
/// `{path}: {cause}` shape) would otherwise print that cause twice; such a cause is left out.
pub fn error_chain(err: &anyhow::Error) -> String {
    let mut line = String::new();
    let mut previous: Option<String> = None;
    for cause in err.chain() {
        let text = cause.to_string();
        let repeated = previous
            .as_deref()
            .is_some_and(|p| p.ends_with(text.as_str()));
        if !repeated && !text.is_empty() {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
        previous = Some(text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Spelled {
        message: String,
        cause: std::io::Error,
    }

    impl std::fmt::Display for Spelled {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}: {}", self.message, self.cause)
        }
    }

    impl std::error::Error for Spelled {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.cause)
        }
    }

    #[test]
    fn a_cause_spelled_out_by_its_parent_prints_once() {
        let inner = Spelled {
            message: "/etc/x.toml".into(),
            cause: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        let err = anyhow::Error::new(inner).context("reading the configuration");
        let line = error_chain(&err);
        assert_eq!(
            line,
            "reading the configuration: /etc/x.toml: entity not found"
        );
    }

    #[test]
    fn distinct_causes_are_all_kept() {
        let err = anyhow::anyhow!("inner cause").context("outer");
        assert_eq!(error_chain(&err), "outer: inner cause");
    }
}
