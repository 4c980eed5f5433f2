//! Drift (`hvguard.diff/v1`) for people and for tools: `hvguard diff`, and the drift section
//! of a scan report made with `--baseline` or `--record`.

use crate::text::{severity_style, TextStyle, Writer, HEADING, RULE};
use hvguard_core::{Diff, DiffSide, FactChange, Finding, Location, Severity};
use std::fmt::Write as _;

/// The diff as pretty-printed `hvguard.diff/v1` JSON ending with a newline.
pub fn render_diff_json(diff: &Diff) -> String {
    crate::to_pretty_json(diff)
}

/// The diff for a person: what was compared, then findings added, resolved and re-rated, then
/// facts changed with `file:line old -> new`, then a one-line summary.
pub fn render_diff_text(diff: &Diff, style: TextStyle) -> String {
    let mut w = Writer {
        out: String::with_capacity(512 + diff.summary.changes * 256),
        colour: style.colour,
    };
    w.styled(HEADING, "hvguard diff");
    w.out.push('\n');
    side(&mut w, "old", &diff.old);
    side(&mut w, "new", &diff.new);
    body(&mut w, diff);
    w.out.push('\n');
    w.out.push_str(&summary_line(diff));
    w.out.push('\n');
    w.out
}

/// The drift section of a scan report.
pub(crate) fn section(w: &mut Writer, diff: &Diff) {
    w.out.push('\n');
    let heading = format!(
        "Drift since {} ({})",
        diff.old.label,
        diff.old.at.as_deref().unwrap_or("time unknown")
    );
    w.styled(HEADING, &heading);
    w.out.push('\n');
    if diff.is_empty() {
        w.out.push_str("  no changes\n");
        return;
    }
    body(w, diff);
    w.out.push_str("  ");
    w.out.push_str(&summary_line(diff));
    w.out.push('\n');
}

fn side(w: &mut Writer, name: &str, s: &DiffSide) {
    let mut text = s.label.clone();
    if let Some(at) = &s.at {
        let _ = write!(text, " ({at})");
    }
    if !s.has_findings {
        text.push_str(" [no report: findings not compared]");
    }
    w.field("  ", name, &text);
}

fn body(w: &mut Writer, diff: &Diff) {
    let f = &diff.findings;
    findings(w, "Findings added", &f.added);
    findings(w, "Findings resolved", &f.resolved);
    if !f.changed.is_empty() {
        w.out.push('\n');
        w.styled(HEADING, &format!("Findings re-rated ({})", f.changed.len()));
        w.out.push('\n');
        for c in &f.changed {
            w.out.push_str("  ");
            w.styled(severity_style(c.old), c.old.as_str());
            w.out.push_str(" -> ");
            w.styled(severity_style(c.new), c.new.as_str());
            w.out.push(' ');
            w.styled(RULE, c.rule.as_str());
            w.out.push_str(": ");
            w.text("  ", &c.title);
            w.out.push('\n');
            if let Some(loc) = &c.location {
                w.field("    ", "at", &location(loc));
            }
        }
    }
    if !diff.facts.changed.is_empty() {
        w.out.push('\n');
        w.styled(
            HEADING,
            &format!("Facts changed ({})", diff.facts.changed.len()),
        );
        w.out.push('\n');
        for c in &diff.facts.changed {
            fact(w, c);
        }
    }
}

fn findings(w: &mut Writer, heading: &str, list: &[Finding]) {
    if list.is_empty() {
        return;
    }
    w.out.push('\n');
    w.styled(HEADING, &format!("{heading} ({})", list.len()));
    w.out.push('\n');
    for f in list {
        w.out.push_str("  ");
        w.styled(severity_style(f.severity), f.severity.as_str());
        w.out.push(' ');
        w.styled(RULE, f.rule.as_str());
        w.out.push_str(": ");
        w.text("  ", &f.title);
        w.out.push('\n');
        if let Some(loc) = &f.location {
            w.field("    ", "at", &location(loc));
        }
        if !f.evidence.is_empty() {
            w.field("    ", "evidence", &f.evidence);
        }
    }
}

fn fact(w: &mut Writer, c: &FactChange) {
    w.out.push_str("  ");
    w.styled(severity_style(c.severity), c.severity.as_str());
    w.out.push(' ');
    w.styled(RULE, c.what.as_str());
    if !c.subject.is_empty() {
        w.out.push(' ');
        w.text("  ", &c.subject);
    }
    w.out.push('\n');
    if let Some(loc) = &c.location {
        let mut at = location(loc);
        if let Some(old) = &c.old_location {
            at = format!("{} (was {})", at, location(old));
        }
        w.field("    ", "at", &at);
    }
    let old = c.old.as_deref().unwrap_or("(absent)");
    let new = c.new.as_deref().unwrap_or("(absent)");
    w.field("    ", "change", &format!("{old} -> {new}"));
}

fn location(loc: &Location) -> String {
    let mut at = loc.path.to_string_lossy().into_owned();
    if let Some(line) = loc.line {
        let _ = write!(at, ":{line}");
    }
    at
}

fn summary_line(diff: &Diff) -> String {
    let s = &diff.summary;
    let worst = s.worst.map_or("none", Severity::as_str);
    format!(
        "{} change(s): {} finding(s) added, {} resolved, {} re-rated; {} fact(s) changed; most severe: {worst}",
        s.changes, s.findings_added, s.findings_resolved, s.findings_changed, s.facts_changed
    )
}
