//! The selection-rationale document: its tables are well formed, a real CommonMark/GFM
//! renderer (Debian's cmark-gfm) turns them into HTML tables, its state lines read back, and
//! its text is pinned by a snapshot.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use hvguard_compare::render::markdown;
use hvguard_compare::{parse_previous, Since};

/// Cells of a table line, split on pipes that are not escaped.
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut out = vec![String::new()];
    let mut escaped = false;
    for ch in inner.chars() {
        match ch {
            '\\' if !escaped => escaped = true,
            '|' if !escaped => out.push(String::new()),
            _ => {
                escaped = false;
                if let Some(last) = out.last_mut() {
                    last.push(ch);
                }
            }
        }
    }
    out
}

/// Every table as (header width, row widths), checking the separator line.
fn tables(doc: &str) -> Vec<(usize, Vec<usize>)> {
    let mut out = Vec::new();
    let lines: Vec<&str> = doc.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].starts_with('|') {
            i += 1;
            continue;
        }
        let header = cells(lines[i]).len();
        let separator = lines.get(i + 1).copied().unwrap_or_default();
        assert!(
            separator.starts_with("|---") && cells(separator).len() == header,
            "line {}: table without a matching separator: {separator:?}",
            i + 2
        );
        let mut rows = Vec::new();
        i += 2;
        while i < lines.len() && lines[i].starts_with('|') {
            rows.push(cells(lines[i]).len());
            i += 1;
        }
        assert!(
            i >= lines.len() || lines[i].is_empty(),
            "line {}: a table must end with a blank line",
            i + 1
        );
        out.push((header, rows));
    }
    out
}

fn document(since: Option<Since>) -> String {
    let c = common::comparison(&common::fixture_snapshot(), &common::shipped(), since);
    markdown::render(&c)
}

#[test]
fn tables_are_well_formed_and_headings_present() {
    let doc = document(None);
    let found = tables(&doc);
    assert!(found.len() >= 10, "{} tables", found.len());
    for (n, (header, rows)) in found.iter().enumerate() {
        assert!(!rows.is_empty(), "table {n} has no rows");
        for width in rows {
            assert_eq!(width, header, "table {n}");
        }
    }
    for heading in [
        "# Hypervisor selection rationale: ",
        "## Summary",
        "## This host",
        "### Installed hypervisors",
        "## Comparison",
        "### Advisory record",
        "## How this was decided",
        "## Sources",
    ] {
        assert!(
            doc.lines().any(|l| l.starts_with(heading)),
            "missing heading {heading}"
        );
    }
}

#[test]
fn state_lines_read_back() {
    let c = common::comparison(&common::fixture_snapshot(), &common::shipped(), None);
    let doc = markdown::render(&c);
    let since = parse_previous(Path::new("rationale.md"), &doc).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(since.date, common::today());
    let counted = since.counted.unwrap_or_default();
    for h in &c.hypervisors {
        let listed: Vec<String> = counted
            .get(&h.kind)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        assert_eq!(listed, h.advisories.ids, "{}", h.kind);
    }
    // Re-running against the document itself finds nothing new.
    let again = document(Some(
        parse_previous(Path::new("rationale.md"), &doc).unwrap_or_else(|e| panic!("{e}")),
    ));
    assert!(again.contains("## What changed since 2026-11-29"));
    assert!(again.contains(
        "No new advisories (advisories in the data now that rationale.md did not count)."
    ));
}

#[test]
fn a_real_markdown_renderer_makes_html_tables_of_them() {
    hvguard_testkit::require!(
        hvguard_testkit::tool_on_path("cmark-gfm"),
        "Debian's cmark-gfm",
        "apt-get install cmark-gfm; .ci/run installs it"
    );
    let doc = document(None);
    let expected = tables(&doc);
    let mut child = Command::new("cmark-gfm")
        .args(["--extension", "table", "--unsafe", "--to", "html"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("cmark-gfm starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(doc.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("cmark-gfm runs");
    assert!(out.status.success());
    let html = String::from_utf8(out.stdout).expect("utf-8");
    let rendered: Vec<&str> = html.split("<table>").skip(1).collect();
    assert_eq!(rendered.len(), expected.len(), "every table renders as one");
    for (n, (table, (header, rows))) in rendered.iter().zip(&expected).enumerate() {
        let table = table.split("</table>").next().unwrap_or_default();
        let th = table.matches("<th>").count() + table.matches("<th ").count();
        assert_eq!(th, *header, "table {n} header");
        assert_eq!(
            table.matches("<tr>").count(),
            rows.len() + 1,
            "table {n} rows"
        );
        let td = table.matches("<td>").count() + table.matches("<td ").count();
        assert_eq!(td, header * rows.len(), "table {n} cells");
    }
    for heading in [
        "<h1>",
        "<h2>Summary</h2>",
        "<h2>Sources</h2>",
        "<h3>Advisory record</h3>",
    ] {
        assert!(html.contains(heading), "{heading}");
    }
    // The state lines stay HTML comments: a viewer does not show them.
    assert!(html.contains("<!-- hvguard-compare date=2026-11-29 -->"));
    assert!(
        !html.contains("<p>| "),
        "a table line rendered as a paragraph"
    );
}

#[test]
fn document_snapshot() {
    insta::assert_snapshot!("rationale_kata_static_3_20", document(None));
}
