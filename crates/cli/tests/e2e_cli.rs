//! The command-line contract: exit codes, one-line errors naming the path, rules, explain.

// Test and bench helpers: a failed setup step should stop with its cause.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::*;
use predicates::prelude::*;

#[test]
fn missing_root_is_exit_2_naming_the_path() {
    hvguard()
        .args(["scan", "--root", "/no/such/root"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(
            predicate::str::contains("/no/such/root")
                .and(predicate::str::contains("does not exist")),
        );
}

#[test]
fn root_that_is_a_file_is_exit_2() {
    let file = tempfile::NamedTempFile::new().expect("tmp");
    hvguard()
        .arg("scan")
        .arg("--root")
        .arg(file.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a directory"));
}

#[test]
fn unreadable_or_invalid_snapshot_is_exit_2() {
    hvguard()
        .args(["scan", "--snapshot", "/no/such/snapshot.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/no/such/snapshot.json"));
    let junk = tempfile::NamedTempFile::new().expect("tmp");
    std::fs::write(junk.path(), "{ not json").expect("write");
    let assert = hvguard()
        .arg("scan")
        .arg("--snapshot")
        .arg(junk.path())
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(
        stderr.contains(&junk.path().display().to_string()),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    std::fs::write(junk.path(), r#"{"schema":"hvguard.snapshot/v99"}"#).expect("write");
    hvguard()
        .arg("scan")
        .arg("--snapshot")
        .arg(junk.path())
        .assert()
        .code(2);
}

#[test]
fn bad_flags_are_exit_2() {
    hvguard()
        .args(["scan", "--format", "yaml"])
        .assert()
        .code(2);
    hvguard()
        .args(["scan", "--fail-on", "severe"])
        .assert()
        .code(2);
    hvguard().args(["frobnicate"]).assert().code(2);
}

#[test]
fn offline_is_accepted() {
    let root = materialise("amd-sev-snp-hardened");
    hvguard()
        .args(["scan", "--offline", "--root"])
        .arg(root.path())
        .assert()
        .code(0);
}

#[test]
fn rules_lists_the_catalogue_in_both_formats() {
    let text = hvguard()
        .arg("rules")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8_lossy(&text);
    assert!(text.contains("host.kvm-device-permissions"));
    let json = hvguard()
        .args(["rules", "--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let rules: serde_json::Value = serde_json::from_slice(&json).expect("json");
    let ids: Vec<&str> = rules
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    for id in [
        "host.kvm-unavailable",
        "host.kvm-device-permissions",
        "host.virtualization-extensions-missing",
        "host.nested-host",
        "host.iommu-disabled",
        "host.secure-boot-disabled",
        "host.smt-enabled",
        "host.cpu-vulnerable",
        "host.mitigations-disabled",
        "host.ksm-enabled",
        "host.nested-virtualization-enabled",
        "host.unprivileged-bpf",
        "host.no-mandatory-access-control",
        "host.swap-enabled",
        "host.confidential-computing-unused",
    ] {
        assert!(ids.contains(&id), "{id} missing from `hvguard rules`");
    }
}

#[test]
fn explain_prints_the_page_and_rejects_unknown_ids() {
    hvguard()
        .args(["explain", "host.smt-enabled"])
        .assert()
        .success()
        .stdout(predicate::str::contains("# host.smt-enabled"));
    hvguard()
        .args(["explain", "host.no-such-rule"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("host.no-such-rule"));
}

#[test]
fn hostile_root_never_panics() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path();
    std::fs::create_dir_all(root.join("proc/sys/kernel")).expect("mkdir");
    std::fs::create_dir_all(root.join("sys/kernel/mm/ksm")).expect("mkdir");
    std::fs::create_dir_all(root.join("var/lib/dpkg")).expect("mkdir");
    std::fs::create_dir_all(root.join("etc")).expect("mkdir");
    // Escapes that must stay inside the root.
    symlink("/etc/shadow", root.join("proc/cpuinfo")).expect("symlink");
    symlink("../../../../../../../../", root.join("proc/cmdline")).expect("symlink");
    // A loop, a directory where a file should be, garbage, an empty status file.
    symlink("/etc/os-release", root.join("etc/os-release.loop")).expect("symlink");
    symlink("/etc/os-release.loop", root.join("etc/os-release")).expect("symlink");
    std::fs::create_dir_all(root.join("sys/kernel/mm/ksm/run")).expect("mkdir");
    std::fs::write(root.join("proc/swaps"), [0xff, 0x00, 0xfe]).expect("write");
    std::fs::write(root.join("var/lib/dpkg/status"), "").expect("write");
    symlink("/usr/bin", root.join("usr")).ok();
    let (code, report) = scan_json(root, &[]);
    assert!(matches!(code, 0 | 1), "exit {code}");
    let text = report.to_string();
    assert!(!text.contains("root:x:0:0"), "read outside the root");
    let unknown = report["unknown"].as_array().expect("unknown");
    assert!(
        unknown.iter().any(|u| u["rule"] == "host.ksm-enabled"),
        "{unknown:?}"
    );
    assert!(
        unknown
            .iter()
            .any(|u| u["rule"] == "host.virtualization-extensions-missing"),
        "{unknown:?}"
    );
}

#[test]
fn help_texts_are_stable() {
    for args in [
        &["--help"][..],
        &["scan", "--help"][..],
        &["audit", "--help"][..],
        &["harden", "--help"][..],
    ] {
        let out = hvguard()
            .args(args)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let name = format!(
            "help-{}",
            args.join("-").trim_start_matches("--").replace("--", "")
        );
        // The test environment's HVGUARD_POLICY path shows in the help: redact the checkout.
        let text = normalise(&String::from_utf8_lossy(&out), &workspace());
        insta::assert_snapshot!(name, text);
    }
}
