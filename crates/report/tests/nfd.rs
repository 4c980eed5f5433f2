//! The Node Feature Discovery feature file: its snapshot, Kubernetes label syntax for every
//! line, the expiry directive's place, and NFD's 64 KiB limit.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use hvguard_core::{Hypervisor, HypervisorKind, Report, ReportHost};
use hvguard_report::{label_value, render_nfd, NfdInput, NFD_LABEL_NAMESPACE, NFD_MAX_FILE_SIZE};
use std::path::PathBuf;

fn input(kata_ready: bool) -> NfdInput {
    NfdInput {
        kata_ready,
        expires_at: "2026-11-27T13:00:00.123Z".parse().expect("timestamp"),
    }
}

/// Kubernetes `IsQualifiedName` for a label key with a prefix, and `IsValidLabelValue`
/// (k8s.io/apimachinery/pkg/util/validation), which NFD applies before publishing a label.
fn assert_valid_label(key: &str, value: &str) {
    let name_re = regex::Regex::new(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$").expect("re");
    let (prefix, name) = key.split_once('/').expect("namespaced key");
    assert_eq!(prefix, NFD_LABEL_NAMESPACE);
    assert!(
        !name.is_empty() && name.len() <= 63 && name_re.is_match(name),
        "label name {name:?}"
    );
    assert!(
        value.is_empty() || (value.len() <= 63 && name_re.is_match(value)),
        "label value {value:?} of {key}"
    );
}

/// The labels of a feature file as NFD's local source reads it: `#` lines are comments or
/// directives, anything else is `key[=value]`.
fn labels_of(file: &str) -> Vec<(String, String)> {
    file.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.to_string(), "true".to_string()),
        })
        .collect()
}

/// Lines NFD takes as directives (it trims each line, then looks for the `# +` prefix).
fn directives(file: &str) -> usize {
    file.lines().filter(|l| l.trim().starts_with("# +")).count()
}

#[test]
fn snapshot() {
    insta::assert_snapshot!(render_nfd(&common::sample_report(), &input(false)));
}

#[test]
fn every_label_is_valid_and_the_expiry_comes_first() {
    for (report, ready) in [
        (common::sample_report(), false),
        (common::empty_report(), true),
    ] {
        let file = render_nfd(&report, &input(ready));
        let first_label = file
            .lines()
            .position(|l| !l.starts_with('#'))
            .expect("labels");
        let expiry = file
            .lines()
            .position(|l| l.starts_with("# +expiry-time="))
            .expect("expiry directive");
        assert!(expiry < first_label, "{file}");
        assert_eq!(
            file.lines().nth(expiry),
            Some("# +expiry-time=2026-11-27T13:00:00Z"),
            "RFC 3339 in whole seconds"
        );
        // No other comment may look like a directive: NFD rejects unknown ones.
        assert_eq!(directives(&file), 1);
        let labels = labels_of(&file);
        for (key, value) in &labels {
            assert_valid_label(key, value);
        }
        let ready_label = format!("{NFD_LABEL_NAMESPACE}/hvguard-kata-ready");
        assert!(labels.contains(&(ready_label, ready.to_string())));
    }
}

#[test]
fn hypervisor_kinds_and_versions_become_labels() {
    let labels = labels_of(&render_nfd(&common::sample_report(), &input(true)));
    let get = |name: &str| {
        labels
            .iter()
            .find(|(k, _)| k == &format!("{NFD_LABEL_NAMESPACE}/{name}"))
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("hvguard-qemu"), Some("true"));
    // The Debian QEMU is the one the Kata configuration uses.
    assert_eq!(get("hvguard-qemu-version"), Some("7.2.22"));
    assert_eq!(get("hvguard-worst-severity"), Some("critical"));
    assert_eq!(get("hvguard-firecracker"), None);
}

/// Every kind, with versions that are long and full of characters labels cannot hold, stays
/// valid and far below the size NFD accepts.
#[test]
fn hostile_versions_stay_label_safe_and_small() {
    let kinds = [
        HypervisorKind::Qemu,
        HypervisorKind::Firecracker,
        HypervisorKind::Jailer,
        HypervisorKind::CloudHypervisor,
        HypervisorKind::Dragonball,
        HypervisorKind::StratoVirt,
        HypervisorKind::Virtiofsd,
    ];
    let hypervisors = kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| Hypervisor {
            kind: *kind,
            path: PathBuf::from(format!("/opt/kata/bin/{i}")),
            version: Some(format!("-1:{}+dfsg/ü\n\"x\"-", "9.".repeat(200))),
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
    let report = Report::new(
        "2026-11-27T12:00:00Z\n# +no-label".into(),
        ReportHost {
            hostname: None,
            root: "/".into(),
            kernel: None,
            os: None,
        },
        vec![],
        vec![],
        hypervisors,
    );
    let file = render_nfd(&report, &input(true));
    assert!(file.len() < NFD_MAX_FILE_SIZE / 16, "{} bytes", file.len());
    assert_eq!(directives(&file), 1, "{file}");
    let labels = labels_of(&file);
    assert_eq!(labels.len(), 2 + 2 * kinds.len());
    for (key, value) in &labels {
        assert_valid_label(key, value);
    }
}

#[test]
fn label_value_is_idempotent_on_valid_values() {
    for v in ["7.2.22", "1.12.1", "v47.0", "a", "A_b-c.9"] {
        assert_eq!(label_value(v), v);
        assert_eq!(label_value(&label_value(v)), label_value(v));
    }
}
