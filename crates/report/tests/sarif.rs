//! SARIF output: valid against the OASIS 2.1.0 schema, and shaped as GitHub code scanning
//! reads it.

mod common;

use hvguard_core::Severity;
use hvguard_report::{render_sarif, URI_BASE_ID};
use serde_json::Value;
use std::collections::BTreeSet;

/// The official schema, vendored (see tests/data/README.md).
const SCHEMA: &str = include_str!("data/sarif-schema-2.1.0.json");

/// The OASIS `language` pattern has a stray `]`, legal in ECMAScript (a literal) but not in
/// Rust's regex syntax; escaping it keeps the ECMAScript meaning. We never write `language`.
const STRAY: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$";
const ESCAPED: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}\\]?$";

fn validator() -> jsonschema::Validator {
    let mut schema: Value = serde_json::from_str(SCHEMA).unwrap_or_else(|e| panic!("schema: {e}"));
    for owner in ["run", "toolComponent"] {
        let pattern = &mut schema["definitions"][owner]["properties"]["language"]["pattern"];
        assert_eq!(
            pattern, STRAY,
            "the vendored schema changed; revisit this patch"
        );
        *pattern = Value::from(ESCAPED);
    }
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("schema does not compile: {e}"))
}

fn schema_errors(log: &Value) -> Vec<String> {
    validator()
        .iter_errors(log)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn sample() -> Value {
    let text = render_sarif(
        &common::sample_report(),
        &common::catalogue(),
        common::DOCS_BASE,
    );
    assert!(text.ends_with("}\n"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("invalid JSON ({e}):\n{text}"))
}

#[test]
fn sample_log_is_valid_sarif_2_1_0() {
    let errors = schema_errors(&sample());
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn empty_report_is_valid_sarif_with_every_rule() {
    let text = render_sarif(
        &common::empty_report(),
        &common::catalogue(),
        common::DOCS_BASE,
    );
    let log: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let errors = schema_errors(&log);
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(log["runs"][0]["results"].as_array().map(Vec::len), Some(0));
    assert_eq!(
        log["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .map(Vec::len),
        Some(common::catalogue().len())
    );
}

#[test]
fn the_schema_check_rejects_broken_logs() {
    // Guards against a validator that accepts anything.
    let mut bad_level = sample();
    bad_level["runs"][0]["results"][0]["level"] = Value::from("critical");
    assert!(!schema_errors(&bad_level).is_empty());
    let mut no_version = sample();
    if let Some(o) = no_version.as_object_mut() {
        o.remove("version");
    }
    assert!(!schema_errors(&no_version).is_empty());
    let mut zero_line = sample();
    zero_line["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        Value::from(0);
    assert!(!schema_errors(&zero_line).is_empty());
}

#[test]
fn log_header_and_driver() {
    let log = sample();
    assert_eq!(
        log["$schema"],
        "https://json.schemastore.org/sarif-2.1.0.json"
    );
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(log["runs"].as_array().map(Vec::len), Some(1));
    let driver = &log["runs"][0]["tool"]["driver"];
    assert_eq!(driver["name"], "hvguard");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    assert!(driver["informationUri"]
        .as_str()
        .is_some_and(|u| u.starts_with("https://")));
}

#[test]
fn rules_cover_the_catalogue_then_stand_ins() {
    let log = sample();
    let rules = log["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap_or_else(|| panic!("no rules"));
    let ids: Vec<&str> = rules.iter().filter_map(|r| r["id"].as_str()).collect();
    let mut expected: Vec<String> = common::catalogue().into_iter().map(|r| r.id).collect();
    // Findings and unknown checks whose rule the catalogue lacks get a descriptor, in id order.
    expected.push("advisory.vulnerable".to_string());
    expected.push("host.unprivileged-bpf".to_string());
    assert_eq!(ids, expected);
    for (rule, catalogued) in rules.iter().zip(common::catalogue()) {
        let id = catalogued.id.as_str();
        assert_eq!(rule["helpUri"], format!("{}{id}.md", common::DOCS_BASE));
        assert_eq!(rule["shortDescription"]["text"], catalogued.title.as_str());
        assert!(rule["fullDescription"]["text"]
            .as_str()
            .is_some_and(|t| t.contains(&catalogued.fires_when)));
        assert!(rule["help"]["text"]
            .as_str()
            .is_some_and(|t| t.contains(&catalogued.remediation)));
        let score: f64 = rule["properties"]["security-severity"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{id}: security-severity is not a numeric string"));
        let (level, band) = match catalogued.severity {
            Severity::Critical => ("error", 9.0..=10.0),
            Severity::High => ("error", 7.0..=8.9),
            Severity::Medium => ("warning", 4.0..=6.9),
            Severity::Low => ("note", 0.1..=3.9),
            Severity::Info => ("note", 0.0..=0.0),
        };
        assert!(band.contains(&score), "{id}: {score}");
        assert_eq!(rule["defaultConfiguration"]["level"], level, "{id}");
        let tags = rule["properties"]["tags"]
            .as_array()
            .unwrap_or_else(|| panic!("{id}: no tags"));
        assert!(tags.contains(&Value::from("security")), "{id}");
    }
    let missing = &rules[ids.len() - 2];
    assert_eq!(
        missing["shortDescription"]["text"],
        "Installed hypervisor is affected by a published advisory"
    );
}

#[test]
fn results_point_at_their_rules_and_files() {
    let log = sample();
    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap_or_else(|| panic!("no rules"));
    let results = run["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results"));
    assert_eq!(results.len(), 9);
    for r in results {
        let index = r["ruleIndex"]
            .as_u64()
            .unwrap_or_else(|| panic!("no ruleIndex: {r}"));
        let index = usize::try_from(index).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rules[index]["id"], r["ruleId"]);
        let expected_level = match r["properties"]["severity"].as_str() {
            Some("critical" | "high") => "error",
            Some("medium") => "warning",
            Some("low" | "info") => "note",
            other => panic!("bad severity {other:?}"),
        };
        assert_eq!(r["level"], expected_level);
        assert!(r["message"]["text"].as_str().is_some_and(|t| !t.is_empty()));
    }
    let by_rule = |id: &str| {
        results
            .iter()
            .find(|r| r["ruleId"] == id)
            .unwrap_or_else(|| panic!("no result for {id}"))
    };
    let seccomp = &by_rule("qemu.seccomp-sandbox-off")["locations"][0];
    assert_eq!(
        seccomp["physicalLocation"]["artifactLocation"]["uri"],
        "etc/kata-containers/configuration.toml"
    );
    assert_eq!(
        seccomp["physicalLocation"]["artifactLocation"]["uriBaseId"],
        URI_BASE_ID
    );
    assert_eq!(seccomp["physicalLocation"]["region"]["startLine"], 212);
    assert_eq!(
        seccomp["logicalLocations"][0]["fullyQualifiedName"],
        "hypervisor.qemu.seccompsandbox"
    );
    let kvm = &by_rule("host.kvm-device-permissions")["locations"][0]["physicalLocation"];
    assert_eq!(kvm["artifactLocation"]["uri"], "dev/kvm");
    assert!(kvm.get("region").is_none(), "no line, no region: {kvm}");
    assert!(by_rule("host.nested-host").get("locations").is_none());
    assert_eq!(
        by_rule("advisory.vulnerable")["properties"]["advisory"]["id"],
        "CVE-2024-3446"
    );
    assert_eq!(run["originalUriBaseIds"][URI_BASE_ID]["uri"], "file:///");
}

#[test]
fn unknown_checks_become_notifications_tied_to_their_rule() {
    let log = sample();
    let run = &log["runs"][0];
    let notes = run["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap_or_else(|| panic!("no notifications"));
    assert_eq!(notes.len(), 2);
    assert_eq!(
        notes[0]["associatedRule"]["id"],
        "host.secure-boot-disabled"
    );
    let index = notes[0]["associatedRule"]["index"]
        .as_u64()
        .unwrap_or(u64::MAX);
    assert_eq!(
        run["tool"]["driver"]["rules"][index as usize]["id"],
        "host.secure-boot-disabled"
    );
    assert!(notes[0]["message"]["text"]
        .as_str()
        .is_some_and(|t| t.contains("no EFI variables")));
    assert_eq!(run["invocations"][0]["executionSuccessful"], true);
}

#[test]
fn fingerprints_are_unique_and_survive_line_moves() {
    let fingerprints = |report: &hvguard_core::Report| -> Vec<String> {
        let text = render_sarif(report, &common::catalogue(), common::DOCS_BASE);
        let log: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        log["runs"][0]["results"]
            .as_array()
            .unwrap_or_else(|| panic!("no results"))
            .iter()
            .map(|r| {
                assert_eq!(
                    r["partialFingerprints"]["primaryLocationLineHash"],
                    r["partialFingerprints"]["hvguard/v1"]
                );
                r["partialFingerprints"]["hvguard/v1"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    };
    let report = common::sample_report();
    let first = fingerprints(&report);
    assert_eq!(
        first.iter().collect::<BTreeSet<_>>().len(),
        first.len(),
        "{first:?}"
    );
    assert!(
        first.iter().all(|f| f.len() == 18 && f.ends_with(":1")),
        "{first:?}"
    );

    let mut moved = report.clone();
    for f in &mut moved.findings {
        if let Some(loc) = &mut f.location {
            loc.line = loc.line.map(|l| l + 10);
        }
        f.evidence.push_str(" (changed)");
    }
    assert_eq!(fingerprints(&moved), first);

    // The same problem reported twice keeps two alerts apart by occurrence.
    let mut twice = report.clone();
    let dup = twice.findings[0].clone();
    twice.findings.insert(1, dup);
    let fps = fingerprints(&twice);
    assert_eq!(fps[0].trim_end_matches(":1"), fps[1].trim_end_matches(":2"));
}

#[test]
fn a_relative_root_gets_no_base_uri_and_docs_base_gains_a_slash() {
    let mut report = common::sample_report();
    report.host.root = "tests/fixtures/hosts/intel-bad".to_string();
    let text = render_sarif(
        &report,
        &common::catalogue(),
        "https://example.org/docs/rules",
    );
    let log: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    assert!(log["runs"][0].get("originalUriBaseIds").is_none());
    assert_eq!(
        log["runs"][0]["tool"]["driver"]["rules"][0]["helpUri"],
        "https://example.org/docs/rules/host.cpu-vulnerable.md"
    );
    let errors = schema_errors(&log);
    assert!(errors.is_empty(), "{errors:#?}");
}
