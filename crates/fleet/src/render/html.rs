//! The fleet report as one self-contained HTML page: a summary first, two charts (inline
//! SVG), then tables an operator can sort by clicking a column (a few lines of inline
//! script). Nothing is loaded from anywhere: no CDN, no web font, no external script,
//! image or style sheet, so the page works from a file, in a mail or on an air-gapped host.

use std::fmt::Write as _;

use hvguard_core::Severity;

use super::svg::{bar_chart, Bar};
use super::HTML_PROBLEM_ROWS;
use crate::model::{bucket_name, BySeverity, FleetReport};

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn colour(worst: Option<Severity>) -> &'static str {
    match worst {
        Some(Severity::Critical) => "#7f1d1d",
        Some(Severity::High) => "#dc2626",
        Some(Severity::Medium) => "#f59e0b",
        Some(Severity::Low) => "#3b82f6",
        Some(Severity::Info) => "#94a3b8",
        None => "#16a34a",
    }
}

/// Sort key of a severity cell: worse is larger; no finding is 0.
fn rank(worst: Option<Severity>) -> u8 {
    match worst {
        Some(Severity::Critical) => 5,
        Some(Severity::High) => 4,
        Some(Severity::Medium) => 3,
        Some(Severity::Low) => 2,
        Some(Severity::Info) => 1,
        None => 0,
    }
}

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f8fafc;color:#0f172a}
header{background:#0f172a;color:#f8fafc;padding:18px 28px}
header h1{margin:0 0 4px;font-size:22px}
header p{margin:0;color:#cbd5e1;font-size:14px}
main{padding:20px 28px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:18px}
.card{background:#fff;border:1px solid #e2e8f0;border-left:6px solid #64748b;border-radius:8px;padding:10px 16px;min-width:150px}
.card .n{font-size:28px;font-weight:700}
.card .t{font-size:13px;color:#475569}
.card.bad{border-left-color:#dc2626}.card.warn{border-left-color:#f59e0b}.card.good{border-left-color:#16a34a}
.charts{display:flex;flex-wrap:wrap;gap:16px;margin-bottom:18px}
.chart{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:6px}
.chart-title{font-weight:700;font-size:14px}
.chart-label,.chart-value{font-size:12px;fill:#0f172a}
section{margin-bottom:22px}
h2{font-size:17px;margin:0 0 8px}
table{border-collapse:collapse;background:#fff;border:1px solid #e2e8f0;font-size:13px}
th,td{padding:4px 10px;border-bottom:1px solid #e2e8f0;text-align:left;vertical-align:top}
th{background:#e2e8f0;cursor:pointer;user-select:none;white-space:nowrap}
th[aria-sort=ascending]::after{content:' \\25B2'}th[aria-sort=descending]::after{content:' \\25BC'}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.sev{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px}
.note{color:#475569;font-size:13px}
.outdated{color:#b45309;font-weight:600}
";

/// Sorts a table by the clicked column: numbers by `data-v`, text naturally.
const SCRIPT: &str = "
document.querySelectorAll('table.sortable th').forEach(function (th) {
  th.addEventListener('click', function () {
    var table = th.closest('table'), body = table.tBodies[0], col = th.cellIndex;
    var asc = th.getAttribute('aria-sort') !== 'ascending';
    table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
    var numeric = th.getAttribute('data-type') === 'num';
    var key = function (row) {
      var cell = row.cells[col];
      var v = cell.hasAttribute('data-v') ? cell.getAttribute('data-v') : cell.textContent;
      return numeric ? parseFloat(v) || 0 : v;
    };
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      var c = numeric ? x - y : x.localeCompare(y, undefined, { numeric: true });
      return asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
";

/// The whole page.
pub fn render_html(report: &FleetReport) -> String {
    let mut out = String::with_capacity(4096 + report.hosts.len() * 400);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(
        out,
        "<title>hvguard fleet report: {} nodes</title>",
        report.nodes
    );
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>");
    let i = &report.inputs;
    let _ = writeln!(
        out,
        "<header><h1>hvguard fleet report</h1><p>{} nodes &middot; generated {} &middot; {} files read: \
         {} reports, {} update results, {} update statuses, {} unusable</p></header>\n<main>",
        report.nodes,
        escape(&report.generated_at),
        i.files,
        i.reports,
        i.update_results,
        i.update_statuses,
        i.unusable
    );
    cards(&mut out, report);
    charts(&mut out, report);
    nodes_table(&mut out, report);
    advisories_table(&mut out, report);
    versions_table(&mut out, report);
    updates_table(&mut out, report);
    stale_table(&mut out, report);
    unknown_table(&mut out, report);
    problems_table(&mut out, report);
    let _ = writeln!(
        out,
        "<p class=\"note\">{} &middot; {}</p>\n</main>\n<script>{SCRIPT}</script>\n</body>\n</html>",
        escape(&report.schema),
        escape(&report.generated_at)
    );
    out
}

fn cards(out: &mut String, report: &FleetReport) {
    let b = &report.by_severity;
    let kev = report.advisories.iter().filter(|a| a.kev).count() as u64;
    let overdue = report.advisories.iter().filter(|a| a.overdue > 0).count() as u64;
    let attention = report.updates.attention.len() as u64;
    let card = |out: &mut String, n: u64, text: &str, bad_when_positive: &str| {
        let class = if n > 0 { bad_when_positive } else { "good" };
        let _ = write!(
            out,
            "<div class=\"card {class}\"><div class=\"n\">{n}</div><div class=\"t\">{}</div></div>",
            escape(text)
        );
    };
    out.push_str("<section class=\"cards\" id=\"summary\">");
    let _ = write!(
        out,
        "<div class=\"card\"><div class=\"n\">{}</div><div class=\"t\">nodes</div></div>",
        report.nodes
    );
    card(out, b.critical, "nodes with a critical finding", "bad");
    card(out, b.high, "nodes at worst high", "bad");
    card(out, kev, "advisories in CISA KEV", "bad");
    card(
        out,
        overdue,
        if report.inputs.update_statuses == 0 {
            "advisories past SLA (no update status read)"
        } else {
            "advisories past SLA"
        },
        "bad",
    );
    card(
        out,
        attention,
        "updates failed, rolled back or refused",
        "bad",
    );
    card(
        out,
        report.stale_processes.len() as u64,
        "nodes with VMMs on a replaced binary",
        "warn",
    );
    card(
        out,
        report.problems.len() as u64,
        "problems with the inputs",
        "warn",
    );
    out.push_str("</section>\n");
}

fn charts(out: &mut String, report: &FleetReport) {
    let severity: Vec<Bar> = BySeverity::ORDER
        .iter()
        .map(|b| Bar {
            label: format!("worst: {}", bucket_name(*b)),
            value: report.by_severity.count(*b),
            colour: colour(*b),
        })
        .collect();
    let mut versions: Vec<&crate::model::VersionRow> = report.hypervisor_versions.iter().collect();
    versions.sort_by_key(|v| std::cmp::Reverse(v.nodes));
    let versions: Vec<Bar> = versions
        .iter()
        .take(12)
        .map(|v| Bar {
            label: format!("{} {}", v.kind, v.version.as_deref().unwrap_or("(unknown)")),
            value: v.nodes,
            colour: "#6366f1",
        })
        .collect();
    out.push_str("<section class=\"charts\">");
    out.push_str(&bar_chart("Nodes by worst finding", &severity));
    if !versions.is_empty() {
        out.push_str(&bar_chart("Nodes per hypervisor build (top 12)", &versions));
    }
    out.push_str("</section>\n");
}

/// `<th>` cells; a leading `#` marks a numeric column.
fn head(out: &mut String, id: &str, title: &str, count: usize, columns: &[&str]) {
    let _ = write!(
        out,
        "<section id=\"{id}\"><h2>{} ({count})</h2><table class=\"sortable\"><thead><tr>",
        escape(title)
    );
    for c in columns {
        match c.strip_prefix('#') {
            Some(name) => {
                let _ = write!(out, "<th data-type=\"num\">{}</th>", escape(name));
            }
            None => {
                let _ = write!(out, "<th>{}</th>", escape(c));
            }
        }
    }
    out.push_str("</tr></thead><tbody>\n");
}

fn tail(out: &mut String) {
    out.push_str("</tbody></table></section>\n");
}

fn num(out: &mut String, n: u64) {
    let _ = write!(out, "<td class=\"num\">{n}</td>");
}

fn text(out: &mut String, t: &str) {
    let _ = write!(out, "<td>{}</td>", escape(t));
}

fn severity(out: &mut String, worst: Option<Severity>) {
    let _ = write!(
        out,
        "<td data-v=\"{}\"><span class=\"sev\" style=\"background:{}\">{}</span></td>",
        rank(worst),
        colour(worst),
        bucket_name(worst)
    );
}

fn nodes_table(out: &mut String, report: &FleetReport) {
    if report.hosts.is_empty() {
        return;
    }
    head(
        out,
        "nodes",
        "Nodes, worst first",
        report.hosts.len(),
        &[
            "node",
            "#worst",
            "#critical",
            "#high",
            "#medium",
            "#low",
            "#info",
            "#advisories",
            "#KEV",
            "#past SLA",
            "#stale VMMs",
            "#unknown checks",
            "hypervisors",
            "update",
            "report",
        ],
    );
    for h in &report.hosts {
        out.push_str("<tr>");
        text(out, &h.node);
        severity(out, h.worst);
        let s = &h.findings;
        for n in [s.critical, s.high, s.medium, s.low, s.info] {
            num(out, n as u64);
        }
        for n in [h.advisories, h.kev, h.overdue, h.stale_processes, h.unknown] {
            num(out, n);
        }
        text(out, &h.hypervisors.join(", "));
        text(out, h.update.as_deref().unwrap_or(""));
        if h.outdated {
            let _ = write!(
                out,
                "<td class=\"outdated\" title=\"{}\">{} (outdated)</td>",
                escape(&h.file.display().to_string()),
                escape(&h.generated_at)
            );
        } else {
            let _ = write!(
                out,
                "<td title=\"{}\">{}</td>",
                escape(&h.file.display().to_string()),
                escape(&h.generated_at)
            );
        }
        out.push_str("</tr>\n");
    }
    tail(out);
}

fn advisories_table(out: &mut String, report: &FleetReport) {
    if report.advisories.is_empty() {
        return;
    }
    head(
        out,
        "advisories",
        "Open advisories",
        report.advisories.len(),
        &["advisory", "#nodes", "KEV", "#past SLA", "#severity"],
    );
    for a in &report.advisories {
        out.push_str("<tr>");
        text(out, &a.id);
        num(out, a.nodes);
        text(out, if a.kev { "KEV" } else { "" });
        num(out, a.overdue);
        severity(out, a.severity);
        out.push_str("</tr>\n");
    }
    tail(out);
}

fn versions_table(out: &mut String, report: &FleetReport) {
    if report.hypervisor_versions.is_empty() {
        return;
    }
    head(
        out,
        "versions",
        "Hypervisor builds",
        report.hypervisor_versions.len(),
        &["kind", "version", "#nodes", "nodes"],
    );
    for v in &report.hypervisor_versions {
        out.push_str("<tr>");
        text(out, &v.kind);
        text(out, v.version.as_deref().unwrap_or("(unknown)"));
        num(out, v.nodes);
        text(out, &v.hosts.join(", "));
        out.push_str("</tr>\n");
    }
    tail(out);
}

fn updates_table(out: &mut String, report: &FleetReport) {
    let results: Vec<String> = report
        .updates
        .results
        .iter()
        .map(|(r, n)| format!("{r}: {n}"))
        .collect();
    if results.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<p class=\"note\">Latest update result per node: {}</p>",
        escape(&results.join(", "))
    );
    if report.updates.attention.is_empty() {
        return;
    }
    head(
        out,
        "updates",
        "Updates that need attention",
        report.updates.attention.len(),
        &[
            "node",
            "command",
            "result",
            "stage",
            "detail",
            "components",
            "when",
        ],
    );
    for u in &report.updates.attention {
        out.push_str("<tr>");
        text(out, &u.node);
        text(out, &u.command);
        text(
            out,
            &format!("{}{}", u.result, if u.dry_run { " (dry run)" } else { "" }),
        );
        text(out, u.stage.as_deref().unwrap_or(""));
        text(out, u.detail.as_deref().unwrap_or(""));
        text(out, &u.components.join("; "));
        text(out, &u.generated_at);
        out.push_str("</tr>\n");
    }
    tail(out);
}

fn stale_table(out: &mut String, report: &FleetReport) {
    if report.stale_processes.is_empty() {
        return;
    }
    head(
        out,
        "stale",
        "Nodes with VMMs still running a replaced binary or library",
        report.stale_processes.len(),
        &["node", "#processes"],
    );
    for s in &report.stale_processes {
        out.push_str("<tr>");
        text(out, &s.node);
        num(out, s.processes);
        out.push_str("</tr>\n");
    }
    tail(out);
}

fn unknown_table(out: &mut String, report: &FleetReport) {
    if report.unknown_checks.is_empty() {
        return;
    }
    head(
        out,
        "unknown",
        "Checks that could not decide (what they hide)",
        report.unknown_checks.len(),
        &["rule", "#nodes"],
    );
    for u in &report.unknown_checks {
        out.push_str("<tr>");
        text(out, &u.rule);
        num(out, u.nodes);
        out.push_str("</tr>\n");
    }
    tail(out);
}

fn problems_table(out: &mut String, report: &FleetReport) {
    if report.problems.is_empty() {
        return;
    }
    head(
        out,
        "problems",
        "Problems with the inputs",
        report.problems.len(),
        &["file", "reason"],
    );
    for p in report.problems.iter().take(HTML_PROBLEM_ROWS) {
        out.push_str("<tr>");
        text(out, &p.file.display().to_string());
        text(out, &p.reason);
        out.push_str("</tr>\n");
    }
    tail(out);
    if report.problems.len() > HTML_PROBLEM_ROWS {
        let _ = writeln!(
            out,
            "<p class=\"note\">{} more problems: the JSON format lists every one.</p>",
            report.problems.len() - HTML_PROBLEM_ROWS
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_elements_and_attributes() {
        assert_eq!(
            escape(r#"<script>"a" & 'b'</script>"#),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }
}
