//! The fleet report for a terminal: the summary first, then the longest lists cut to their
//! top rows (JSON has them all).

use std::fmt::Write as _;

use hvguard_core::Severity;

use super::TEXT_ROWS;
use crate::model::{bucket_name, BySeverity, FleetReport};

pub fn render_text(report: &FleetReport) -> String {
    let mut out = String::new();
    let i = &report.inputs;
    let _ = writeln!(
        out,
        "hvguard fleet report: {} node(s), generated {}",
        report.nodes, report.generated_at
    );
    let _ = writeln!(
        out,
        "read {} file(s): {} report(s), {} update result(s), {} update status(es), {} unusable",
        i.files, i.reports, i.update_results, i.update_statuses, i.unusable
    );
    let buckets: Vec<String> = BySeverity::ORDER
        .iter()
        .map(|b| format!("{} {}", bucket_name(*b), report.by_severity.count(*b)))
        .collect();
    let _ = writeln!(out, "nodes by worst finding: {}", buckets.join(", "));
    let f = &report.findings;
    let _ = writeln!(
        out,
        "findings: critical {}, high {}, medium {}, low {}, info {}",
        f.critical, f.high, f.medium, f.low, f.info
    );
    let kev = report.advisories.iter().filter(|a| a.kev).count();
    let overdue = report.advisories.iter().filter(|a| a.overdue > 0).count();
    let _ = writeln!(
        out,
        "advisories open: {} ({kev} in CISA KEV, {overdue} past SLA on some node{})",
        report.advisories.len(),
        if i.update_statuses == 0 {
            "; no update status read, so SLA is not known"
        } else {
            ""
        }
    );
    let attention = report.updates.attention.len();
    let results: Vec<String> = report
        .updates
        .results
        .iter()
        .map(|(r, n)| format!("{r} {n}"))
        .collect();
    if !results.is_empty() {
        let _ = writeln!(
            out,
            "updates: {} ({attention} need attention)",
            results.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "stale VMM processes on {} node(s); {} problem(s) with the inputs",
        report.stale_processes.len(),
        report.problems.len()
    );

    if !report.hosts.is_empty() {
        section(&mut out, "Nodes, worst first", report.hosts.len());
        let width = width(report.hosts.iter().map(|h| h.node.len()), 4);
        let _ = writeln!(
            out,
            "  {:width$}  {:8}  {:>4} {:>4} {:>4} {:>4} {:>4}  {:>4} {:>3} {:>7}  REPORT",
            "NODE", "WORST", "CRIT", "HIGH", "MED", "LOW", "INFO", "ADV", "KEV", "OVERDUE"
        );
        for h in report.hosts.iter().take(TEXT_ROWS) {
            let s = &h.findings;
            let _ = writeln!(
                out,
                "  {:width$}  {:8}  {:>4} {:>4} {:>4} {:>4} {:>4}  {:>4} {:>3} {:>7}  {}{}",
                h.node,
                bucket_name(h.worst),
                s.critical,
                s.high,
                s.medium,
                s.low,
                s.info,
                h.advisories,
                h.kev,
                h.overdue,
                h.generated_at,
                if h.outdated { " (outdated)" } else { "" }
            );
        }
        more(&mut out, report.hosts.len());
    }

    if !report.advisories.is_empty() {
        section(&mut out, "Advisories", report.advisories.len());
        let width = width(report.advisories.iter().map(|a| a.id.len()), 8);
        let _ = writeln!(
            out,
            "  {:width$}  {:>5}  {:3}  {:>8}  SEVERITY",
            "ADVISORY", "NODES", "KEV", "PAST SLA"
        );
        for a in report.advisories.iter().take(TEXT_ROWS) {
            let _ = writeln!(
                out,
                "  {:width$}  {:>5}  {:3}  {:>8}  {}",
                a.id,
                a.nodes,
                if a.kev { "yes" } else { "" },
                a.overdue,
                a.severity.map(Severity::as_str).unwrap_or("-")
            );
        }
        more(&mut out, report.advisories.len());
    }

    if !report.hypervisor_versions.is_empty() {
        section(
            &mut out,
            "Hypervisor builds",
            report.hypervisor_versions.len(),
        );
        for v in report.hypervisor_versions.iter().take(TEXT_ROWS) {
            let shown: Vec<&str> = v.hosts.iter().take(5).map(String::as_str).collect();
            let rest = v.hosts.len().saturating_sub(shown.len());
            let _ = writeln!(
                out,
                "  {} {}: {} node(s): {}{}",
                v.kind,
                v.version.as_deref().unwrap_or("(version unknown)"),
                v.nodes,
                shown.join(", "),
                if rest > 0 {
                    format!(" and {rest} more")
                } else {
                    String::new()
                }
            );
        }
        more(&mut out, report.hypervisor_versions.len());
    }

    if !report.updates.attention.is_empty() {
        section(
            &mut out,
            "Updates that need attention",
            report.updates.attention.len(),
        );
        for u in report.updates.attention.iter().take(TEXT_ROWS) {
            let _ = writeln!(
                out,
                "  {}: update {} {}{}{}",
                u.node,
                u.command,
                u.result,
                if u.dry_run { " (dry run)" } else { "" },
                match (&u.stage, &u.detail) {
                    (Some(stage), Some(detail)) => format!(" at {stage}: {detail}"),
                    (Some(stage), None) => format!(" at {stage}"),
                    _ => String::new(),
                }
            );
        }
        more(&mut out, report.updates.attention.len());
    }

    if !report.stale_processes.is_empty() {
        section(
            &mut out,
            "Nodes with VMMs on a replaced binary",
            report.stale_processes.len(),
        );
        for s in report.stale_processes.iter().take(TEXT_ROWS) {
            let _ = writeln!(out, "  {}: {} process(es)", s.node, s.processes);
        }
        more(&mut out, report.stale_processes.len());
    }

    if !report.unknown_checks.is_empty() {
        section(
            &mut out,
            "Unknown checks (could not decide), most nodes first",
            report.unknown_checks.len(),
        );
        for u in report.unknown_checks.iter().take(TEXT_ROWS) {
            let _ = writeln!(out, "  {}: {} node(s)", u.rule, u.nodes);
        }
        more(&mut out, report.unknown_checks.len());
    }

    if !report.problems.is_empty() {
        section(&mut out, "Problems with the inputs", report.problems.len());
        for p in report.problems.iter().take(TEXT_ROWS) {
            let _ = writeln!(out, "  {}: {}", p.file.display(), p.reason);
        }
        more(&mut out, report.problems.len());
    }
    out
}

fn section(out: &mut String, title: &str, n: usize) {
    let _ = writeln!(out, "\n{title} ({n}):");
}

fn more(out: &mut String, n: usize) {
    if n > TEXT_ROWS {
        let _ = writeln!(
            out,
            "  ... and {} more (--format json or html lists all)",
            n - TEXT_ROWS
        );
    }
}

fn width(lengths: impl Iterator<Item = usize>, min: usize) -> usize {
    lengths.take(TEXT_ROWS).max().unwrap_or(0).max(min)
}
