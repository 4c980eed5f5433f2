//! The `hvguard.report/v1` JSON contract of DESIGN.md §5.

mod common;

use hvguard_core::Report;
use hvguard_report::render_json;
use serde_json::Value;

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    k.sort_unstable();
    k
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("invalid JSON ({e}):\n{text}"))
}

#[test]
fn top_level_keys_and_order_are_the_contract() {
    let text = render_json(&common::sample_report());
    assert!(text.ends_with("}\n"));
    let v = parse(&text);
    assert_eq!(
        keys(&v),
        [
            "findings",
            "generated_at",
            "host",
            "hypervisors",
            "schema",
            "summary",
            "unknown"
        ]
    );
    assert_eq!(v["schema"], "hvguard.report/v1");
    assert_eq!(v["generated_at"], common::GENERATED_AT);
    assert_eq!(keys(&v["host"]), ["hostname", "kernel", "os", "root"]);
    assert_eq!(
        keys(&v["summary"]),
        ["critical", "high", "info", "low", "medium"]
    );
    assert_eq!(v["summary"]["high"], 4);
    // Pretty output keeps §5's order, which people reading it rely on.
    let positions: Vec<usize> = [
        "\"schema\"",
        "\"generated_at\"",
        "\"host\"",
        "\"summary\"",
        "\"findings\"",
        "\"unknown\"",
        "\"hypervisors\"",
    ]
    .iter()
    .map(|k| text.find(k).unwrap_or_else(|| panic!("{k} missing")))
    .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
}

#[test]
fn every_finding_has_exactly_the_section_5_fields() {
    let v = parse(&render_json(&common::sample_report()));
    let findings = v["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("findings not an array"));
    assert_eq!(findings.len(), 9);
    for f in findings {
        assert_eq!(
            keys(f),
            [
                "advisory",
                "evidence",
                "location",
                "message",
                "references",
                "remediation",
                "rule",
                "severity",
                "title"
            ],
        );
        if !f["location"].is_null() {
            assert_eq!(keys(&f["location"]), ["key", "line", "path"], "{f}");
        }
    }
    let first = &findings[0];
    assert_eq!(first["severity"], "critical");
    let seccomp = findings
        .iter()
        .find(|f| f["rule"] == "qemu.seccomp-sandbox-off")
        .unwrap_or_else(|| panic!("no seccomp finding"));
    assert_eq!(seccomp["location"]["line"], 212);
    assert_eq!(seccomp["location"]["key"], "hypervisor.qemu.seccompsandbox");
    assert_eq!(seccomp["evidence"], "seccompsandbox = \"\"");
    assert!(seccomp["advisory"].is_null());
    let kvm = findings
        .iter()
        .find(|f| f["rule"] == "host.kvm-device-permissions")
        .unwrap_or_else(|| panic!("no kvm finding"));
    assert!(kvm["location"]["line"].is_null() && kvm["location"]["key"].is_null());
    let nested = findings
        .iter()
        .find(|f| f["rule"] == "host.nested-host")
        .unwrap_or_else(|| panic!("no nested finding"));
    assert!(nested["location"].is_null());
    let adv = findings
        .iter()
        .find(|f| f["rule"] == "advisory.vulnerable")
        .unwrap_or_else(|| panic!("no advisory"));
    assert_eq!(
        keys(&adv["advisory"]),
        [
            "aliases",
            "binaries",
            "component",
            "components",
            "cvss",
            "epss",
            "fixed_in",
            "id",
            "kev",
            "relevance",
            "status"
        ]
    );
    assert_eq!(adv["advisory"]["status"], "vulnerable");
}

#[test]
fn unknown_and_hypervisors_follow_the_contract() {
    let v = parse(&render_json(&common::sample_report()));
    assert_eq!(v["unknown"][0]["rule"], "host.secure-boot-disabled");
    // `advisory` was added within v1; never omitted, null for checks other than advisories.
    assert_eq!(keys(&v["unknown"][0]), ["advisory", "reason", "rule"]);
    assert!(v["unknown"][0]["advisory"].is_null());
    let qemu = &v["hypervisors"][0];
    assert_eq!(qemu["kind"], "qemu");
    assert_eq!(qemu["path"], "/usr/bin/qemu-system-x86_64");
    assert_eq!(qemu["version"], "7.2.22");
    assert_eq!(qemu["version_source"], "binary-string");
    assert_eq!(qemu["package"]["name"], "qemu-system-x86");
    assert_eq!(qemu["package"]["source"], "qemu");
    assert_eq!(qemu["package"]["version"], "1:7.2+dfsg-7+deb12u18+b3");
    assert!(v["hypervisors"][1]["package"].is_null());
    assert_eq!(v["hypervisors"][1]["version_source"], "kata-versions");
}

#[test]
fn json_reads_back_into_the_same_report() {
    let report = common::sample_report();
    let back: Report =
        serde_json::from_str(&render_json(&report)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, report);
    let empty = common::empty_report();
    let back: Report = serde_json::from_str(&render_json(&empty)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, empty);
}

#[test]
fn an_advisory_that_could_not_be_judged_is_structured() {
    let mut report = common::sample_report();
    let rule = hvguard_core::RuleId::new("advisory.vulnerable").unwrap_or_else(|e| panic!("{e}"));
    report.unknown.push(hvguard_core::UnknownCheck {
        rule,
        reason: "CVE-2021-3947 on /usr/bin/qemu-system-x86_64: known affected up to 6.1.0".into(),
        advisory: Some(hvguard_core::UnknownAdvisory {
            id: "CVE-2021-3947".into(),
            product: "qemu".into(),
            package: Some("qemu-system-x86".into()),
            binaries: vec!["/usr/bin/qemu-system-x86_64".into()],
            reason: "known affected up to 6.1.0".into(),
        }),
    });
    let v = parse(&render_json(&report));
    let entry = v["unknown"]
        .as_array()
        .and_then(|u| u.iter().find(|e| e["rule"] == "advisory.vulnerable"))
        .unwrap_or_else(|| panic!("no advisory unknown"));
    assert_eq!(
        keys(&entry["advisory"]),
        ["binaries", "id", "package", "product", "reason"]
    );
    assert_eq!(entry["advisory"]["package"], "qemu-system-x86");
    let back: Report =
        serde_json::from_str(&render_json(&report)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, report);
}
