//! End-to-end: `hvguard audit` on every real rendered Kata configuration, drop-ins, the
//! kata-deploy fixture host, and `hvguard harden`.

// Test and bench helpers: a failed setup step should stop with its cause.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::*;
use predicates::prelude::*;
use std::path::{Path, PathBuf};

fn rendered() -> PathBuf {
    workspace().join("tests/fixtures/kata/rendered")
}

fn toml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            toml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
}

fn audit_json(config: &Path) -> (i32, String, Option<serde_json::Value>) {
    let output = hvguard()
        .args(["audit", "--format", "json", "--config"])
        .arg(config)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    let report = serde_json::from_slice(&output.stdout).ok();
    (output.status.code().expect("code"), stderr, report)
}

/// Every real configuration Kata 2.0.0, 3.2.0, 3.20.0 and main install: each loads (or, for
/// the known-broken one, fails with `path:line:col`) and yields the findings its defaults
/// deserve. The per-file findings are pinned in a snapshot.
#[test]
fn every_real_rendered_config() {
    let mut files = Vec::new();
    toml_files(&rendered(), &mut files);
    assert!(
        files.len() >= 60,
        "expected the ~60 rendered configs, got {}",
        files.len()
    );
    let mut summary = String::new();
    for file in &files {
        let rel = file
            .strip_prefix(rendered())
            .expect("inside")
            .display()
            .to_string();
        let (code, stderr, report) = audit_json(file);
        if rel == "2.0.0/runtime-go/configuration-fc.toml" {
            // Upstream fault kept as it is: `valid_hypervisor_paths = ` has no value.
            assert_eq!(code, 2, "{rel}: {stderr}");
            assert!(stderr.contains("configuration-fc.toml:27:"), "{stderr}");
            assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
            summary.push_str(&format!("{rel}: error at line 27\n"));
            continue;
        }
        assert!(matches!(code, 0 | 1), "{rel}: exit {code}: {stderr}");
        let report = report.unwrap_or_else(|| panic!("{rel}: no JSON"));
        summary.push_str(&format!("{rel}:\n"));
        for finding in report["findings"].as_array().expect("findings") {
            let location = &finding["location"];
            let line = location["line"]
                .as_u64()
                .map(|l| l.to_string())
                .unwrap_or("-".into());
            summary.push_str(&format!(
                "  {:<8} {:<38} {} @{}\n",
                finding["severity"].as_str().unwrap_or_default(),
                finding["rule"].as_str().unwrap_or_default(),
                location["key"].as_str().unwrap_or_default(),
                line
            ));
        }
    }
    insta::assert_snapshot!("rendered-configs", summary);
}

#[test]
fn kata_3_20_qemu_defaults_fire_what_they_deserve() {
    let file = rendered().join("3.20.0/runtime-go/configuration-qemu.toml");
    let (code, _, report) = audit_json(&file);
    assert_eq!(code, 1);
    let report = report.expect("json");
    let find = |rule: &str| {
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["rule"] == rule)
            .cloned()
            .unwrap_or_else(|| panic!("{rule} did not fire"))
    };
    // seccompsandbox is commented out in the shipped file: not set.
    assert_eq!(find("qemu.seccomp-sandbox-off")["severity"], "high");
    let guest = find("kata.guest-seccomp-disabled");
    assert_eq!(guest["location"]["line"], 596);
    // enable_annotations lists kernel_params and virtio_fs_extra_args: high.
    let annotations = find("kata.annotations-dangerous");
    assert_eq!(annotations["severity"], "high");
    assert_eq!(annotations["location"]["line"], 57);
}

#[test]
fn a_dropin_turning_debug_on_is_reported_at_the_dropins_line() {
    let main = workspace().join("tests/fixtures/kata/dropin/configuration.toml");
    let (_, _, report) = audit_json(&main);
    let report = report.expect("json");
    let debug = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| {
            f["rule"] == "kata.debug-enabled"
                && f["location"]["key"] == "hypervisor.qemu.enable_debug"
        })
        .expect("debug finding");
    let path = debug["location"]["path"].as_str().expect("path");
    assert!(path.ends_with("config.d/20-debug.toml"), "{path}");
    assert_eq!(debug["location"]["line"], 4);
}

#[test]
fn audit_of_a_missing_file_is_exit_2_naming_it() {
    hvguard()
        .args(["audit", "--config", "/no/such/configuration.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/no/such/configuration.toml"));
    hvguard().arg("audit").assert().code(2);
}

#[test]
fn kata_deploy_host_wires_containerd_and_configs_together() {
    let root = materialise("kata-deploy");
    let (code, report) = scan_json(root.path(), &[]);
    assert_eq!(code, 1);
    let findings = report["findings"].as_array().expect("findings");
    let passthrough: Vec<_> = findings
        .iter()
        .filter(|f| f["rule"] == "containerd.kata-annotations-passthrough")
        .collect();
    assert_eq!(
        passthrough.len(),
        4,
        "kata-qemu, kata-fc, kata-clh, kata-dragonball"
    );
    // Kata 3.20.0 (< 4.0.0) still honours io.katacontainers.config_path: critical.
    assert!(passthrough.iter().all(|f| f["severity"] == "critical"));
    assert!(passthrough
        .iter()
        .all(|f| f["location"]["path"] == "/opt/kata/containerd/config.d/kata-deploy.toml"));
    // Findings from configurations found through containerd's ConfigPath.
    assert!(findings
        .iter()
        .any(|f| f["rule"] == "firecracker.jailer-missing"
            || f["rule"] == "kata.path-allowlist-weak"
            || f["rule"] == "qemu.seccomp-sandbox-off"));
}

#[test]
fn containerd_version_from_the_root_and_snapshots_without_readings() {
    let root = materialise("kata-deploy");
    // A containerd binary under the root is read, never run: Debian 12's 1.6.20.
    let bin = root.path().join("usr/bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    std::fs::write(bin.join("containerd"), b"\0/var/run/netns1.6.20+unknown\0").expect("write");
    let collected = hvguard()
        .arg("collect")
        .arg("--root")
        .arg(root.path())
        .output()
        .expect("collect runs");
    assert!(collected.status.success());
    let mut snap: serde_json::Value = serde_json::from_slice(&collected.stdout).expect("json");
    assert_eq!(snap["containerd_binaries"][0]["version"], "1.6.20");
    let runtimes = snap["containerd"].as_array().expect("containerd").clone();
    assert_eq!(runtimes.len(), 4);
    assert!(runtimes
        .iter()
        .all(|r| r["readings"] == serde_json::json!(["1.x-cwd-globs"])));

    // The same snapshot as hvguard wrote it before it told containerd releases apart.
    snap.as_object_mut()
        .expect("object")
        .remove("containerd_binaries");
    for r in snap["containerd"].as_array_mut().expect("array") {
        let r = r.as_object_mut().expect("object");
        r.remove("readings");
        r.remove("pod_annotations_path");
    }
    let file = tempfile::NamedTempFile::new().expect("tmp");
    std::fs::write(file.path(), serde_json::to_vec(&snap).expect("json")).expect("write");
    let old = hvguard()
        .args(["scan", "--format", "json", "--snapshot"])
        .arg(file.path())
        .output()
        .expect("scan runs");
    assert_eq!(old.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&old.stdout).expect("json");
    let passthrough = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == "containerd.kata-annotations-passthrough")
        .count();
    assert_eq!(passthrough, 4);
}

fn tree_bytes(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push((path.clone(), std::fs::read(&path).expect("read")));
            }
        }
    }
    files.sort();
    files
}

fn harden(config: &Path, extra: &[&str]) -> std::process::Output {
    hvguard()
        .args(["harden", "--kata-release", "3.20.0", "--config"])
        .arg(config)
        .args(extra)
        .output()
        .expect("runs")
}

/// A temp dir holding a copy of a real rendered config as `configuration.toml`, and its bytes.
fn copy_of(rel: &str) -> (tempfile::TempDir, PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("configuration.toml");
    let original = std::fs::read(rendered().join(rel)).expect("read");
    std::fs::write(&config, &original).expect("write");
    (dir, config, original)
}

#[test]
fn harden_dry_run_write_idempotence_and_audit_afterwards() {
    let (dir, config, original) = copy_of("3.20.0/runtime-go/configuration-qemu.toml");
    let before = tree_bytes(dir.path());

    // The dry run changes nothing and shows the diff.
    let dry = harden(&config, &[]);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(
        text.contains("+runtime.disable_guest_seccomp = false"),
        "{text}"
    );
    assert!(text.contains("would create"), "{text}");
    assert_eq!(tree_bytes(dir.path()), before, "dry run wrote something");

    // --write fixes; the operator's file keeps every byte.
    let write = harden(&config, &["--write"]);
    assert!(
        write.status.success(),
        "{}",
        String::from_utf8_lossy(&write.stderr)
    );
    assert_eq!(std::fs::read(&config).expect("read"), original);
    let dropin = dir.path().join("config.d/80-hvguard-hardening.toml");
    let written = std::fs::read(&dropin).expect("drop-in written");

    // A second --write changes nothing and says so.
    let again = harden(&config, &["--write"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to change"));
    assert_eq!(std::fs::read(&dropin).expect("read"), written);
    assert!(
        !dir.path().join("hvguard-backups").exists(),
        "no backup for a no-op"
    );

    // audit no longer reports what was fixed; only what needs a human decision remains.
    let (_, _, report) = audit_json(&config);
    let rules: Vec<String> = report.expect("json")["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["rule"].as_str().unwrap_or_default().to_string())
        .collect();
    for fixed in [
        "qemu.seccomp-sandbox-off",
        "kata.guest-seccomp-disabled",
        "kata.annotations-dangerous",
        "kata.sandbox-cgroup-only-disabled",
    ] {
        assert!(
            !rules.iter().any(|r| r == fixed),
            "{fixed} still reported: {rules:?}"
        );
    }
}

#[test]
fn harden_into_an_unusable_folder_is_a_clear_error_leaving_nothing() {
    let (dir, config, _) = copy_of("3.20.0/runtime-go/configuration-qemu.toml");
    // config.d is a regular file: no drop-in can be written there.
    std::fs::write(dir.path().join("config.d"), "not a folder").expect("write");
    let before = tree_bytes(dir.path());
    let out = harden(&config, &["--write"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("config.d"), "{stderr}");
    assert_eq!(tree_bytes(dir.path()), before, "something was written");
}

#[test]
fn harden_without_dropin_support_writes_a_full_copy() {
    let (dir, config, original) = copy_of("2.0.0/runtime-go/configuration-qemu.toml");
    let out = hvguard()
        .args(["harden", "--kata-release", "2.0.0", "--write", "--config"])
        .arg(&config)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ConfigPath"), "{text}");
    let copy = dir.path().join("configuration.hvguard-hardened.toml");
    assert!(copy.exists(), "{text}");
    assert_eq!(
        std::fs::read(&config).expect("read"),
        original,
        "original modified"
    );
    let (code, stderr, report) = audit_json(&copy);
    assert!(matches!(code, 0 | 1), "{stderr}");
    let rules: Vec<String> = report.expect("json")["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["rule"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        !rules.iter().any(|r| r == "qemu.seccomp-sandbox-off"),
        "{rules:?}"
    );
}
