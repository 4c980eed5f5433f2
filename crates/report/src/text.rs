//! The text report for people at a terminal: one fact per line, nothing wrapped, so that
//! `grep` on a rule id, a path or a severity finds the line that matters.

use anstyle::{AnsiColor, Effects, Style};
use hvguard_core::{AdvisoryRef, Finding, Hypervisor, Report, Severity, UnknownAdvisory};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// How the text report looks. The CLI decides `colour` from the terminal, `NO_COLOR` and
/// `--color`; the renderer never looks at the environment itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextStyle {
    /// Emit ANSI colour codes (severity colours, bold headings).
    pub colour: bool,
    /// List every unknown advisory with its reason, instead of one line per package.
    pub verbose: bool,
}

/// Renders the report for a person: header, hypervisors, findings grouped by severity (most
/// severe first), unknown checks and a one-line summary.
pub fn render_text(report: &Report, style: TextStyle) -> String {
    let mut w = Writer {
        out: String::with_capacity(256 + report.findings.len() * 512),
        colour: style.colour,
    };
    header(&mut w, report);
    hypervisors(&mut w, &report.hypervisors);
    findings(&mut w, report);
    unknown(&mut w, report, style.verbose);
    if let Some(drift) = &report.drift {
        crate::diff::section(&mut w, drift);
    }
    summary(&mut w, report);
    w.out
}

pub(crate) struct Writer {
    pub(crate) out: String,
    pub(crate) colour: bool,
}

impl Writer {
    pub(crate) fn styled(&mut self, style: Style, text: &str) {
        if self.colour {
            // Writing to a String cannot fail.
            let _ = write!(self.out, "{style}{text}{style:#}");
        } else {
            self.out.push_str(text);
        }
    }

    /// `label: value` at `indent`, with host-supplied text made safe for a terminal and
    /// continuation lines indented so that a multi-line value stays under its label.
    pub(crate) fn field(&mut self, indent: &str, label: &str, value: &str) {
        self.out.push_str(indent);
        self.styled(LABEL, label);
        self.out.push_str(": ");
        self.text(indent, value);
        self.out.push('\n');
    }

    pub(crate) fn text(&mut self, indent: &str, value: &str) {
        let mut lines = value.split('\n');
        if let Some(first) = lines.next() {
            push_clean(&mut self.out, first);
        }
        for line in lines {
            self.out.push('\n');
            self.out.push_str(indent);
            self.out.push_str("  ");
            push_clean(&mut self.out, line);
        }
    }
}

pub(crate) const HEADING: Style = Style::new().effects(Effects::BOLD);
pub(crate) const LABEL: Style = Style::new().effects(Effects::DIMMED);
pub(crate) const RULE: Style = Style::new().effects(Effects::BOLD);

pub(crate) fn severity_style(severity: Severity) -> Style {
    let colour = match severity {
        Severity::Critical => AnsiColor::BrightRed,
        Severity::High => AnsiColor::Red,
        Severity::Medium => AnsiColor::Yellow,
        Severity::Low => AnsiColor::Cyan,
        Severity::Info => AnsiColor::Blue,
    };
    let style = Style::new().fg_color(Some(colour.into()));
    if severity == Severity::Critical {
        style.effects(Effects::BOLD)
    } else {
        style
    }
}

/// Copies text that came from the host (file contents, paths) or a feed with terminal
/// controls escaped: a hostile config must not be able to drive the reader's terminal.
fn push_clean(out: &mut String, text: &str) {
    hvguard_core::escape::push_escaped(out, text);
}

fn header(w: &mut Writer, report: &Report) {
    let host = &report.host;
    w.styled(HEADING, "hvguard report");
    w.out.push_str(" for host ");
    w.text("", host.hostname.as_deref().unwrap_or("(unknown hostname)"));
    w.out.push('\n');
    w.field("  ", "root", &host.root);
    w.field("  ", "os", host.os.as_deref().unwrap_or("unknown"));
    w.field("  ", "kernel", host.kernel.as_deref().unwrap_or("unknown"));
    w.field("  ", "generated", &report.generated_at);
}

fn hypervisors(w: &mut Writer, list: &[Hypervisor]) {
    w.out.push('\n');
    if list.is_empty() {
        w.styled(HEADING, "Hypervisors: none found");
        w.out.push('\n');
        return;
    }
    w.styled(HEADING, &format!("Hypervisors ({})", list.len()));
    w.out.push('\n');
    for h in list {
        w.out.push_str("  ");
        w.styled(RULE, h.kind.as_str());
        w.out.push(' ');
        w.text("  ", &h.path.to_string_lossy());
        w.out.push('\n');
        w.field("    ", "version", &version_line(h));
        if let Some(evidence) = &h.version_evidence {
            w.field("    ", "version text", evidence);
        }
        let package = match &h.package {
            Some(p) => {
                let manager = match p.manager {
                    hvguard_core::PackageManager::Dpkg => "dpkg",
                    hvguard_core::PackageManager::Rpm => "rpm",
                };
                format!(
                    "{} {} ({manager}; source {} {})",
                    p.name, p.version, p.source, p.source_version
                )
            }
            None => "none (not owned by a package)".to_string(),
        };
        w.field("    ", "package", &package);
        if let Some(release) = &h.kata_release {
            w.field("    ", "kata release", release);
        }
        for config in &h.used_by {
            w.field("    ", "used by", &config.to_string_lossy());
        }
    }
}

fn version_line(h: &Hypervisor) -> String {
    let source = h.version_source.map(|s| match s {
        hvguard_core::VersionSource::BinaryString => "embedded version string",
        hvguard_core::VersionSource::Package => "package version",
        hvguard_core::VersionSource::KataVersions => "Kata release table",
        hvguard_core::VersionSource::Exec => "--version output",
    });
    match (&h.version, source) {
        (Some(v), Some(s)) => format!("{v} (from {s})"),
        (Some(v), None) => v.clone(),
        (None, _) => "unknown".to_string(),
    }
}

fn findings(w: &mut Writer, report: &Report) {
    w.out.push('\n');
    if report.findings.is_empty() {
        w.styled(HEADING, "No findings.");
        w.out.push('\n');
        return;
    }
    w.styled(HEADING, &format!("Findings ({})", report.summary.total()));
    w.out.push('\n');
    for severity in Severity::DESCENDING {
        let count = report.summary.count(severity);
        if count == 0 {
            continue;
        }
        w.out.push('\n');
        let heading = format!("{} ({count})", severity.as_str().to_ascii_uppercase());
        w.styled(severity_style(severity).effects(Effects::BOLD), &heading);
        w.out.push('\n');
        // The report is already sorted most severe first; grouping only needs the filter.
        for f in report.findings.iter().filter(|f| f.severity == severity) {
            finding(w, f);
        }
    }
}

fn finding(w: &mut Writer, f: &Finding) {
    w.out.push_str("  ");
    w.styled(severity_style(f.severity), f.severity.as_str());
    w.out.push(' ');
    w.styled(RULE, f.rule.as_str());
    w.out.push_str(": ");
    w.text("  ", &f.title);
    w.out.push('\n');
    if let Some(loc) = &f.location {
        let mut at = loc.path.to_string_lossy().into_owned();
        if let Some(line) = loc.line {
            let _ = write!(at, ":{line}");
        }
        if let Some(key) = &loc.key {
            let _ = write!(at, " (key {key})");
        }
        w.field("    ", "at", &at);
    }
    if !f.evidence.is_empty() {
        w.field("    ", "evidence", &f.evidence);
    }
    w.field("    ", "message", &f.message);
    if let Some(a) = &f.advisory {
        w.field("    ", "advisory", &advisory_line(a));
        if !a.relevance.is_empty() {
            w.field("    ", "relevance", &a.relevance);
        }
    }
    w.field("    ", "fix", &f.remediation);
    for r in &f.references {
        w.field("    ", "ref", r);
    }
}

fn advisory_line(a: &AdvisoryRef) -> String {
    let status = match a.status {
        hvguard_core::AdvisoryStatus::Vulnerable => "vulnerable",
        hvguard_core::AdvisoryStatus::FixedByBackport => "fixed by backport",
        hvguard_core::AdvisoryStatus::NotAffected => "not affected",
    };
    let mut line = format!("{} ({status}", a.id);
    if !a.aliases.is_empty() {
        let _ = write!(line, "; aliases {}", a.aliases.join(", "));
    }
    if let Some(cvss) = a.cvss {
        let _ = write!(line, "; CVSS {cvss:.1}");
    }
    if a.kev {
        line.push_str("; in CISA KEV");
    }
    if let Some(epss) = a.epss {
        let _ = write!(line, "; EPSS {epss}");
    }
    if !a.component.is_empty() {
        let _ = write!(line, "; component {}", a.component);
    }
    match &a.fixed_in {
        Some(v) => {
            let _ = write!(line, "; fixed in {v})");
        }
        None => line.push_str("; no fixed version)"),
    }
    line
}

fn unknown(w: &mut Writer, report: &Report, verbose: bool) {
    w.out.push('\n');
    if report.unknown.is_empty() {
        w.styled(HEADING, "Unknown checks: none");
        w.out.push('\n');
        return;
    }
    w.styled(
        HEADING,
        &format!("Unknown checks ({})", report.unknown.len()),
    );
    w.out.push('\n');
    // Advisories that could not be judged: one line per package (or binary) unless
    // `--verbose`, so that thirty undecided CVEs do not drown the report.
    let mut grouped: BTreeMap<(String, String), Vec<&UnknownAdvisory>> = BTreeMap::new();
    for u in &report.unknown {
        match (&u.advisory, verbose) {
            (Some(a), false) => {
                let owner = a.package.clone().unwrap_or_else(|| {
                    a.binaries
                        .first()
                        .map(|b| b.display().to_string())
                        .unwrap_or_default()
                });
                grouped
                    .entry((u.rule.as_str().to_owned(), owner))
                    .or_default()
                    .push(a);
            }
            _ => {
                w.out.push_str("  unknown ");
                w.styled(RULE, u.rule.as_str());
                w.out.push_str(": ");
                w.text("  ", &u.reason);
                w.out.push('\n');
            }
        }
    }
    for ((rule, owner), advisories) in grouped {
        let ids: Vec<&str> = advisories.iter().map(|a| a.id.as_str()).collect();
        let mut binaries: Vec<&std::path::Path> = advisories
            .iter()
            .flat_map(|a| a.binaries.iter().map(|b| b.as_path()))
            .collect();
        binaries.sort();
        binaries.dedup();
        let on = match binaries.as_slice() {
            [] => owner.clone(),
            [one] if one.display().to_string() == owner => owner.clone(),
            [one] => format!("{owner} ({})", one.display()),
            [first, rest @ ..] => format!(
                "{owner} ({} and {} more binaries)",
                first.display(),
                rest.len()
            ),
        };
        w.out.push_str("  unknown ");
        w.styled(RULE, &rule);
        w.out.push_str(": ");
        w.text(
            "  ",
            &format!(
                "{} advisor{} on {on} could not be judged (no usable range, or none for this version): {} (`--verbose` lists each reason)",
                ids.len(),
                if ids.len() == 1 { "y" } else { "ies" },
                ids.join(", ")
            ),
        );
        w.out.push('\n');
    }
}

fn summary(w: &mut Writer, report: &Report) {
    w.out.push('\n');
    w.styled(HEADING, "Summary:");
    w.out.push(' ');
    for (i, severity) in Severity::DESCENDING.into_iter().enumerate() {
        if i > 0 {
            w.out.push_str(", ");
        }
        let count = report.summary.count(severity);
        let part = format!("{count} {}", severity.as_str());
        if count > 0 {
            w.styled(severity_style(severity), &part);
        } else {
            w.out.push_str(&part);
        }
    }
    let total = report.summary.total();
    let unknown = report.unknown.len();
    let _ = writeln!(
        w.out,
        " \u{2014} {total} {}, {unknown} {} unknown",
        plural(total, "finding", "findings"),
        plural(unknown, "check", "checks"),
    );
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}
