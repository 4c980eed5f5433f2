//! deploy/prometheus: the alert rules pass Debian's `promtool check rules` and their unit tests
//! (`promtool test rules`), and every hvguard metric and label value they select is one the
//! renderer actually writes.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;
mod tools;

use hvguard_core::{Report, ReportHost, Severity};
use hvguard_report::{
    render_prometheus, DriftCounts, MetricsInput, SlaCounts, UpdateResult, UpdateSummary,
    METRIC_NAMES,
};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

fn deploy() -> PathBuf {
    common::workspace().join("deploy/prometheus")
}

fn promtool(args: &[&str]) {
    let Some(promtool) = tools::required("promtool", "prometheus") else {
        return;
    };
    let out = Command::new(promtool)
        .args(args)
        .current_dir(deploy())
        .output()
        .expect("promtool runs");
    assert!(
        out.status.success(),
        "promtool {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn promtool_checks_the_rules() {
    promtool(&["check", "rules", "hvguard-rules.yml"]);
}

#[test]
fn promtool_runs_the_rule_unit_tests() {
    promtool(&["test", "rules", "hvguard-rules.test.yml"]);
}

/// Every family with every optional section present (and drift against both references).
fn everything() -> String {
    let report = Report::new(
        "2026-11-27T12:00:00Z".into(),
        ReportHost {
            hostname: None,
            root: "/".into(),
            kernel: None,
            os: None,
        },
        vec![],
        vec![],
        vec![],
    );
    let drift = DriftCounts {
        findings_added: 1,
        findings_resolved: 1,
        findings_severity_changed: 1,
        facts_changed: 1,
    };
    render_prometheus(
        &report,
        &MetricsInput {
            hvguard_version: "0".into(),
            input_errors: 0,
            kata_ready: Some(true),
            drift_since_previous: Some(drift),
            drift_since_baseline: Some(drift),
            last_update: Some(UpdateSummary {
                result: UpdateResult::Failed,
                finished_at_unix: 0,
            }),
            sla: Some(SlaCounts {
                overdue: BTreeMap::from([(Severity::High, 1)]),
            }),
        },
    )
}

#[test]
fn rules_select_only_metrics_and_label_values_hvguard_writes() {
    let rules = std::fs::read_to_string(deploy().join("hvguard-rules.yml")).unwrap();
    let exprs: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("expr:"))
        .collect();
    assert_eq!(exprs.len(), 11, "one expr per alert");
    let exposition = everything();
    let metric = regex::Regex::new(r"\b(hvguard_[a-z_]+)(\{([^}]*)\})?").unwrap();
    let matcher = regex::Regex::new(r#"(\w+)\s*(=~|!=|=)\s*"([^"]*)""#).unwrap();
    let mut seen = 0;
    for expr in exprs {
        for m in metric.captures_iter(expr) {
            let name = &m[1];
            assert!(
                METRIC_NAMES.contains(&name),
                "{name} in `{expr}` is not written by hvguard"
            );
            seen += 1;
            let Some(selector) = m.get(3) else { continue };
            for sel in matcher.captures_iter(selector.as_str()) {
                let (label, op, value) = (&sel[1], &sel[2], &sel[3]);
                let values: Vec<&str> = match op {
                    "=" => vec![value],
                    "=~" => value.split('|').collect(),
                    _ => vec![value],
                };
                for value in values {
                    let needle = format!("{label}=\"{value}\"");
                    assert!(
                        exposition
                            .lines()
                            .any(|l| l.starts_with(name) && l.contains(&needle)),
                        "`{expr}` selects {name}{{{needle}}}, which hvguard never writes"
                    );
                }
            }
        }
    }
    assert!(seen >= 11);
}
