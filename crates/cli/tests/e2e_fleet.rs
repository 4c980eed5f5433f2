//! `hvguard fleet report` end to end: the text and JSON output over the real node documents
//! of crates/fleet/tests/fixtures (insta snapshots), the HTML page, `--out` (atomic, with a
//! backup), and exit 2 only when nothing could be read.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::path::PathBuf;

use common::{hvguard, workspace};

fn nodes() -> PathBuf {
    workspace()
        .join("crates/fleet/tests/fixtures/nodes")
        .canonicalize()
        .unwrap()
}

/// The fixture documents keep their capture times: no report counts as outdated here.
const AGELESS: [&str; 2] = ["--max-age", "10000000"];

fn normalise(text: &str) -> String {
    let root = workspace().canonicalize().unwrap();
    let text = text.replace(&format!("{}/", root.display()), "[WORKSPACE]/");
    common::normalise(&text, std::path::Path::new("/nonexistent-root"))
        .lines()
        .map(|l| match l.find("generated ") {
            Some(i) if l.starts_with("hvguard fleet report:") => {
                format!("{}generated [TIMESTAMP]", &l[..i])
            }
            _ => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The fixture folder as a path relative to the workspace (the command runs there): node
/// names and table widths then do not depend on where the repository is checked out.
const NODES_RELATIVE: &str = "crates/fleet/tests/fixtures/nodes";

#[test]
fn json_and_text_over_the_fixture_nodes() {
    let out = hvguard()
        .current_dir(workspace())
        .args(["fleet", "report", "--format", "json"])
        .args(AGELESS)
        .arg(NODES_RELATIVE)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["schema"], "hvguard.fleet/v1");
    assert_eq!(value["nodes"], 6);
    insta::assert_snapshot!("fleet-fixtures.json", normalise(&text));

    let out = hvguard()
        .current_dir(workspace())
        .args(["fleet", "report"])
        .args(AGELESS)
        .arg(NODES_RELATIVE)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!(
        "fleet-fixtures.txt",
        normalise(&String::from_utf8(out.stdout).unwrap())
    );
}

#[test]
fn html_is_one_page_and_out_keeps_a_backup() {
    let d = tempfile::tempdir().unwrap();
    let page = d.path().join("fleet.html");
    let run = || {
        hvguard()
            .args(["fleet", "report", "--format", "html", "--out"])
            .arg(&page)
            .arg(nodes())
            .output()
            .unwrap()
    };
    let out = run();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty(), "the report went to --out");
    assert!(String::from_utf8_lossy(&out.stderr).contains("written to"));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<svg"));
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(!d.path().join("fleet.html.bak").exists());
    std::fs::write(&page, "previous").unwrap();
    assert_eq!(run().status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(d.path().join("fleet.html.bak")).unwrap(),
        "previous"
    );
    // No temporary file is left behind.
    let names: Vec<String> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn nothing_readable_is_exit_2_with_the_problems_still_reported() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("broken.json"),
        b"{\"schema\": \"hvguard.report/v1\",",
    )
    .unwrap();
    let missing = d.path().join("missing");
    let out = hvguard()
        .args(["fleet", "report", "--format", "json"])
        .arg(d.path())
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no report, update result or update status could be read"),
        "{stderr}"
    );
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let problems = value["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 2);
    assert!(problems
        .iter()
        .any(|p| p["reason"].as_str().unwrap().starts_with("truncated JSON")));
    // One readable file among broken ones is enough for exit 0.
    let out = hvguard()
        .args(["fleet", "report", "--format", "json"])
        .arg(d.path())
        .arg(nodes().join("intel-problems.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    // A bad flag is a usage error.
    let out = hvguard()
        .args(["fleet", "report", "--format", "yaml"])
        .arg(d.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
