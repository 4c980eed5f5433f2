//! Drift between states, on snapshots and reports written by an older hvguard (see
//! fixtures/README.md) and on variations of them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hvguard_core::{
    ConfigValue, DriftReference, FactKind, Report, Severity, Snapshot, DIFF_SCHEMA,
};
use hvguard_drift::{diff, State};
use std::path::{Path, PathBuf};

fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let bytes = std::fs::read(&path).unwrap();
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn deploy() -> Snapshot {
    fixture("v0-kata-deploy.snapshot.json")
}

fn both<'a>(label: &'a str, s: &'a Snapshot, r: Option<&'a Report>) -> State<'a> {
    State::new(label, Some(s), r)
}

#[test]
fn older_states_load_and_compare_equal_to_themselves() {
    let snapshot: Snapshot = fixture("v0-kata-static.snapshot.json");
    let report: Report = fixture("v0-kata-static.report.json");
    // Fields the older hvguard did not write read as their defaults.
    assert!(snapshot.integrity.packages.unknown_reason().is_some());
    assert!(report.drift.is_none());
    let s = both("old", &snapshot, Some(&report));
    let d = diff(DriftReference::Previous, &s, &s);
    assert_eq!(d.schema, DIFF_SCHEMA);
    assert!(d.is_empty(), "{:?}", d.summary);
    assert_eq!(d.summary.worst, None);
    assert!(!d.summary.reaches(Severity::Info));
}

#[test]
fn a_kata_key_change_names_file_line_old_and_new() {
    let old = deploy();
    let mut new = old.clone();
    let config = new
        .kata
        .iter_mut()
        .find(|c| c.values.contains_key("hypervisor.qemu.enable_debug"))
        .expect("a real qemu config sets enable_debug");
    let main = config.main.clone();
    let value = config
        .values
        .get_mut("hypervisor.qemu.enable_debug")
        .unwrap();
    let (path, line) = (value.path.clone(), value.line);
    let was = value.value.as_bool().unwrap();
    value.value = ConfigValue::Bool(!was);
    let d = diff(
        DriftReference::Previous,
        &both("old", &old, None),
        &both("new", &new, None),
    );
    assert_eq!(d.facts.changed.len(), 1, "{:#?}", d.facts.changed);
    let change = &d.facts.changed[0];
    assert_eq!(change.what, FactKind::KataConfig);
    assert_eq!(
        change.subject,
        format!("{} hypervisor.qemu.enable_debug", main.display())
    );
    assert_eq!(change.old, Some(was.to_string()));
    assert_eq!(change.new, Some((!was).to_string()));
    let loc = change.location.as_ref().unwrap();
    assert_eq!((&loc.path, loc.line), (&path, Some(line)));
    assert_eq!(change.severity, Severity::Medium);
    assert!(d.summary.reaches(Severity::Medium) && !d.summary.reaches(Severity::High));
    // Findings were not compared: neither side carried a report.
    assert!(!d.old.has_findings);
}

#[test]
fn a_value_moved_to_a_drop_in_shows_both_locations() {
    let old = deploy();
    let mut new = old.clone();
    let config = &mut new.kata[0];
    let (key, value) = config
        .values
        .iter_mut()
        .find(|(_, v)| matches!(v.value, ConfigValue::String(_)))
        .unwrap();
    let key = key.clone();
    value.value = ConfigValue::String("changed".into());
    value.path = PathBuf::from("/etc/kata-containers/config.d/50-ops.toml");
    value.line = 3;
    let d = diff(
        DriftReference::Baseline,
        &both("old", &old, None),
        &both("new", &new, None),
    );
    let change = d
        .facts
        .changed
        .iter()
        .find(|c| c.subject.ends_with(&key))
        .unwrap();
    assert_eq!(change.location.as_ref().unwrap().line, Some(3));
    assert!(change.old_location.is_some(), "{change:#?}");
    assert_eq!(d.reference, DriftReference::Baseline);
}

#[test]
fn host_facts_and_runtimes_are_compared() {
    let mut old = deploy();
    let with_binaries: Snapshot = fixture("v0-kata-static.snapshot.json");
    old.hypervisors = with_binaries.hypervisors;
    let mut new = old.clone();
    new.host.cmdline = hvguard_core::Probe::found(vec!["quiet".into(), "mitigations=off".into()]);
    new.containerd[0]
        .pod_annotations
        .push("io.katacontainers.*".into());
    let runtime = new.containerd[0].name.clone();
    new.hypervisors[0].version = Some("99.0".into());
    let d = diff(
        DriftReference::Previous,
        &both("old", &old, None),
        &both("new", &new, None),
    );
    let kinds: Vec<FactKind> = d.facts.changed.iter().map(|c| c.what).collect();
    assert!(kinds.contains(&FactKind::KernelCmdline), "{kinds:?}");
    assert!(kinds.contains(&FactKind::HypervisorVersion), "{kinds:?}");
    let rt = d
        .facts
        .changed
        .iter()
        .find(|c| c.what == FactKind::ContainerdRuntime)
        .unwrap();
    assert_eq!(rt.subject, runtime);
    assert!(rt.new.as_deref().unwrap().contains("io.katacontainers.*"));
    assert!(rt.location.as_ref().unwrap().line.is_some());
}

#[test]
fn a_hash_change_without_a_version_change_is_high() {
    let mut old: Snapshot = fixture("v0-kata-static.snapshot.json");
    let path = old.hypervisors[0].path.clone();
    old.integrity.binaries.push(hvguard_core::BinaryDigest {
        path: path.clone(),
        sha256: "a".repeat(64),
        packaged: false,
        kata_release: Some("3.20.0".into()),
    });
    let mut same_version = old.clone();
    same_version.integrity.binaries[0].sha256 = "b".repeat(64);
    let d = diff(
        DriftReference::Previous,
        &both("old", &old, None),
        &both("new", &same_version, None),
    );
    assert_eq!(d.facts.changed.len(), 1);
    assert_eq!(d.facts.changed[0].what, FactKind::HypervisorSha256);
    assert_eq!(d.facts.changed[0].severity, Severity::High);
    // The same hash change with a new version is an update: low.
    let mut updated = same_version.clone();
    updated.hypervisors[0].version = Some("99.0".into());
    let d = diff(
        DriftReference::Previous,
        &both("old", &old, None),
        &both("new", &updated, None),
    );
    assert_eq!(d.summary.worst, Some(Severity::Low), "{:#?}", d.facts);
}

#[test]
fn findings_added_resolved_and_re_rated() {
    let snapshot: Snapshot = fixture("v0-kata-static.snapshot.json");
    let old: Report = fixture("v0-kata-static.report.json");
    assert!(old.findings.len() >= 3);
    let mut new = old.clone();
    let resolved = new.findings.remove(0);
    // The first finding below critical is re-rated.
    let i = new
        .findings
        .iter()
        .position(|f| f.severity < Severity::Critical)
        .unwrap();
    let rerated_from = new.findings[i].severity;
    new.findings[i].severity = Severity::Critical;
    let mut added = resolved.clone();
    added.location = Some(hvguard_core::Location {
        path: "/somewhere/else".into(),
        line: Some(1),
        key: None,
    });
    added.severity = Severity::High;
    new.findings.push(added);
    // Lines move when a file is edited: a finding that only moved is the same finding.
    if let Some(loc) = new.findings[1].location.as_mut() {
        loc.line = loc.line.map(|l| l + 10);
    }
    let d = diff(
        DriftReference::Given,
        &both("old", &snapshot, Some(&old)),
        &both("new", &snapshot, Some(&new)),
    );
    assert_eq!(d.findings.resolved.len(), 1, "{:#?}", d.findings);
    assert_eq!(d.findings.resolved[0].rule, resolved.rule);
    assert_eq!(d.findings.added.len(), 1);
    assert_eq!(d.findings.changed.len(), 1);
    assert_eq!(d.findings.changed[0].old, rerated_from);
    assert_eq!(d.findings.changed[0].new, Severity::Critical);
    assert_eq!(d.summary.changes, 3);
    assert_eq!(d.summary.worst, Some(Severity::Critical));
    // The document's JSON names its schema and the shape the contract promises.
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["schema"], "hvguard.diff/v1");
    for key in ["added", "resolved", "changed"] {
        assert!(json["findings"][key].is_array(), "{key}");
    }
    assert!(json["facts"]["changed"].is_array());
}

#[test]
fn a_report_without_a_snapshot_still_compares_hypervisors() {
    let old: Report = fixture("v0-kata-static.report.json");
    let mut new = old.clone();
    new.hypervisors[0].version = Some("48.0".into());
    let o = State::new("old.json", None, Some(&old));
    let n = State::new("new.json", None, Some(&new));
    let d = diff(DriftReference::Given, &o, &n);
    assert_eq!(d.facts.changed.len(), 1);
    assert_eq!(d.facts.changed[0].what, FactKind::HypervisorVersion);
    assert_eq!(d.facts.changed[0].new.as_deref(), Some("48.0"));
}
