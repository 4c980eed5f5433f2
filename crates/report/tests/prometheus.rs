//! The Prometheus renderer: snapshots, a strict reading of the output back, and Debian's real
//! `promtool check metrics` over it (hostile label values included).

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use hvguard_core::{
    Finding, Hypervisor, HypervisorKind, Location, Report, ReportHost, RuleId, Severity,
};
use hvguard_report::{
    render_prometheus, DriftCounts, MetricsInput, SlaCounts, UpdateResult, UpdateSummary,
    METRIC_NAMES,
};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn minimal_input() -> MetricsInput {
    MetricsInput {
        hvguard_version: "0.1.0".into(),
        ..MetricsInput::default()
    }
}

fn full_input() -> MetricsInput {
    MetricsInput {
        hvguard_version: "0.1.0".into(),
        input_errors: 1,
        kata_ready: Some(false),
        drift_since_previous: Some(DriftCounts {
            findings_added: 2,
            findings_resolved: 1,
            findings_severity_changed: 0,
            facts_changed: 5,
        }),
        drift_since_baseline: None,
        last_update: Some(UpdateSummary {
            result: UpdateResult::RolledBack,
            finished_at_unix: 1_795_770_000,
        }),
        sla: Some(SlaCounts {
            overdue: BTreeMap::from([(Severity::Critical, 1), (Severity::High, 3)]),
        }),
    }
}

/// One sample read back: family name, labels (unescaped), value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// A strict reader of the text format as hvguard writes it: every sample must follow its
/// family's HELP and TYPE, families must not repeat, series must not repeat.
fn read_back(text: &str) -> (Vec<Sample>, BTreeMap<String, (String, String)>) {
    let mut families: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut samples = Vec::new();
    let mut series = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP name text");
            assert!(!families.contains_key(name), "family {name} appears twice");
            families.insert(name.to_string(), (help.to_string(), String::new()));
            current = Some(name.to_string());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name type");
            assert_eq!(Some(name), current.as_deref(), "TYPE without HELP: {line}");
            families.get_mut(name).expect("declared").1 = kind.to_string();
        } else if line.starts_with('#') {
            continue;
        } else {
            let sample = parse_sample(line);
            assert_eq!(
                Some(sample.name.as_str()),
                current.as_deref(),
                "sample outside its family: {line}"
            );
            assert!(
                !families[&sample.name].1.is_empty(),
                "sample before TYPE: {line}"
            );
            assert!(
                series.insert((sample.name.clone(), sample.labels.clone())),
                "duplicate series: {line}"
            );
            samples.push(sample);
        }
    }
    (samples, families)
}

fn parse_sample(line: &str) -> Sample {
    let name_end = line.find(['{', ' ']).expect("name");
    let name = line[..name_end].to_string();
    let mut labels = Vec::new();
    let mut rest = &line[name_end..];
    if let Some(mut body) = rest.strip_prefix('{') {
        loop {
            let eq = body.find("=\"").expect("label=\"value\"");
            let label = body[..eq].to_string();
            let mut value = String::new();
            let mut chars = body[eq + 2..].char_indices();
            let after_quote = loop {
                let (i, c) = chars.next().expect("closing quote");
                match c {
                    '\\' => match chars.next().expect("escape").1 {
                        '\\' => value.push('\\'),
                        '"' => value.push('"'),
                        'n' => value.push('\n'),
                        other => panic!("bad escape \\{other} in {line}"),
                    },
                    '"' => break eq + 2 + i + 1,
                    c => value.push(c),
                }
            };
            labels.push((label, value));
            body = &body[after_quote..];
            if let Some(more) = body.strip_prefix(',') {
                body = more;
                continue;
            }
            rest = body.strip_prefix('}').expect("} after the labels");
            break;
        }
    }
    let value = rest.trim_start().parse().expect("value");
    Sample {
        name,
        labels,
        value,
    }
}

fn value_of(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|s| s.value)
}

fn promtool_check(text: &str) {
    let Some(promtool) = common::required_tool("promtool", "prometheus") else {
        return;
    };
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("feed promtool");
    let out = child.wait_with_output().expect("promtool ends");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{said}\n---\n{text}"
    );
    assert!(
        said.trim().is_empty(),
        "promtool has remarks:\n{said}\n---\n{text}"
    );
}

#[test]
fn snapshot_minimal() {
    insta::assert_snapshot!(render_prometheus(
        &common::sample_report(),
        &minimal_input()
    ));
}

#[test]
fn snapshot_with_every_optional_section() {
    insta::assert_snapshot!(render_prometheus(&common::sample_report(), &full_input()));
}

#[test]
fn promtool_accepts_every_variant() {
    for report in [common::sample_report(), common::empty_report()] {
        promtool_check(&render_prometheus(&report, &minimal_input()));
        promtool_check(&render_prometheus(&report, &full_input()));
    }
}

#[test]
fn values_read_back_match_the_report() {
    let report = common::sample_report();
    let text = render_prometheus(&report, &minimal_input());
    let (samples, families) = read_back(&text);
    assert!(families.values().all(|(_, kind)| kind == "gauge"));
    assert_eq!(
        value_of(&samples, "hvguard_scan_timestamp_seconds", &[]),
        Some(1_795_780_800.0)
    );
    assert_eq!(
        value_of(
            &samples,
            "hvguard_findings",
            &[
                ("rule", "kata.annotations-dangerous"),
                ("severity", "critical")
            ]
        ),
        Some(1.0)
    );
    for severity in Severity::DESCENDING {
        assert_eq!(
            value_of(
                &samples,
                "hvguard_findings_by_severity",
                &[("severity", severity.as_str())]
            ),
            Some(report.summary.count(severity) as f64)
        );
    }
    let findings_total: f64 = samples
        .iter()
        .filter(|s| s.name == "hvguard_findings")
        .map(|s| s.value)
        .sum();
    assert_eq!(findings_total as usize, report.findings.len());
    assert_eq!(
        value_of(
            &samples,
            "hvguard_advisories_vulnerable",
            &[("severity", "high"), ("kev", "false")]
        ),
        Some(1.0)
    );
    assert_eq!(
        samples
            .iter()
            .filter(|s| s.name == "hvguard_advisories_vulnerable")
            .count(),
        10,
        "every severity x kev pair, zeros included"
    );
    assert_eq!(value_of(&samples, "hvguard_unknown_checks", &[]), Some(2.0));
    assert_eq!(
        value_of(&samples, "hvguard_stale_vmm_processes", &[]),
        Some(0.0)
    );
    assert_eq!(
        value_of(
            &samples,
            "hvguard_hypervisor_info",
            &[
                ("kind", "qemu"),
                ("version", "8.2.0"),
                ("path", "/opt/kata/bin/qemu-system-x86_64")
            ]
        ),
        Some(1.0)
    );
    // Families of inputs that do not exist are absent, not zero.
    for absent in [
        "hvguard_kata_ready",
        "hvguard_drift_changes",
        "hvguard_update_last_result",
        "hvguard_update_last_timestamp_seconds",
        "hvguard_sla_overdue",
    ] {
        assert!(!families.contains_key(absent), "{absent} without input");
    }
}

#[test]
fn optional_sections_appear_with_their_input() {
    let text = render_prometheus(&common::sample_report(), &full_input());
    let (samples, families) = read_back(&text);
    let declared: BTreeSet<&str> = families.keys().map(String::as_str).collect();
    let all: BTreeSet<&str> = METRIC_NAMES.into_iter().collect();
    assert_eq!(
        declared, all,
        "every family is written when every input is given"
    );
    assert_eq!(value_of(&samples, "hvguard_kata_ready", &[]), Some(0.0));
    assert_eq!(
        value_of(&samples, "hvguard_scan_input_errors", &[]),
        Some(1.0)
    );
    assert_eq!(
        value_of(
            &samples,
            "hvguard_drift_changes",
            &[("against", "previous"), ("change", "fact_changed")]
        ),
        Some(5.0)
    );
    assert!(
        !samples.iter().any(|s| s.name == "hvguard_drift_changes"
            && s.labels.contains(&("against".into(), "baseline".into()))),
        "no baseline drift without a baseline"
    );
    assert_eq!(
        value_of(
            &samples,
            "hvguard_update_last_result",
            &[("result", "rolled_back")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value_of(
            &samples,
            "hvguard_update_last_result",
            &[("result", "succeeded")]
        ),
        Some(0.0)
    );
    assert_eq!(
        value_of(&samples, "hvguard_sla_overdue", &[("severity", "high")]),
        Some(3.0)
    );
    assert_eq!(
        value_of(&samples, "hvguard_sla_overdue", &[("severity", "low")]),
        Some(0.0)
    );
}

/// Paths come from the host: quotes, backslashes, newlines and other bytes must survive the
/// label escaping, as promtool and a strict reader see it.
#[test]
fn hostile_label_values_are_escaped() {
    let paths = [
        "/opt/kata/bin/qemu \"quoted\"",
        "/opt/kata/bin/back\\slash\\",
        "/opt/kata/bin/new\nline",
        "/opt/kata/bin/tab\tand\rcr",
        "/opt/kata/bin/ünïcødé-✓",
        "/opt/kata/bin/ends-with-backslash\\",
    ];
    let hypervisors = paths
        .iter()
        .map(|p| Hypervisor {
            kind: HypervisorKind::Qemu,
            path: PathBuf::from(p),
            version: Some("8.2.0\"x\\y\nz".into()),
            version_source: None,
            version_evidence: None,
            package: None,
            kata_release: None,
            stat: None,
            parent_dirs: vec![],
            version_note: None,
            used_by: vec![],
            devices: None,
        })
        .collect();
    let stale = Finding {
        rule: RuleId::new("hypervisor.stale-process").expect("rule id"),
        severity: Severity::High,
        title: "stale".into(),
        message: "pid 42".into(),
        location: Some(Location {
            path: PathBuf::from("/proc/42"),
            line: None,
            key: None,
        }),
        evidence: String::new(),
        remediation: String::new(),
        references: vec![],
        advisory: None,
    };
    let report = Report::new(
        "2026-11-27T12:00:00Z".into(),
        ReportHost {
            hostname: Some("h\"ost".into()),
            root: "/".into(),
            kernel: None,
            os: None,
        },
        vec![stale],
        vec![],
        hypervisors,
    );
    let text = render_prometheus(&report, &minimal_input());
    promtool_check(&text);
    let (samples, _) = read_back(&text);
    let read: BTreeSet<String> = samples
        .iter()
        .filter(|s| s.name == "hvguard_hypervisor_info")
        .map(|s| {
            assert!(s
                .labels
                .contains(&("version".into(), "8.2.0\"x\\y\nz".into())));
            s.labels
                .iter()
                .find(|(k, _)| k == "path")
                .expect("path label")
                .1
                .clone()
        })
        .collect();
    let expected: BTreeSet<String> = paths.iter().map(|p| p.to_string()).collect();
    assert_eq!(read, expected);
    assert_eq!(
        value_of(&samples, "hvguard_stale_vmm_processes", &[]),
        Some(1.0)
    );
}

#[test]
fn output_is_deterministic_and_has_no_timestamps() {
    let a = render_prometheus(&common::sample_report(), &full_input());
    let b = render_prometheus(&common::sample_report(), &full_input());
    assert_eq!(a, b);
    for line in a.lines().filter(|l| !l.starts_with('#')) {
        // name{labels} value — a client timestamp would be a third field after the labels.
        let after_labels = line.rsplit_once('}').map_or(line, |(_, rest)| rest);
        assert_eq!(
            after_labels.split_whitespace().count(),
            if line.contains('}') { 1 } else { 2 },
            "{line}"
        );
    }
}
