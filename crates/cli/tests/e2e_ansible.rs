//! The Ansible side of the fleet (deploy/ansible, docs/fleet.md), run for real with Debian's
//! `ansible-core`: syntax checks, a staged rollout over eight local nodes (each with its own
//! fixture root, the update command replaced by a read-only one) in which a node of the
//! third wave fails its health gate, update results judged from their JSON, the audit
//! playbook feeding `hvguard fleet report`, and the `hvguard` role installing the binary and
//! a policy that hvguard checks.
//!
//! With `CI=true` a missing `ansible-playbook` fails these tests; otherwise they say SKIPPED.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::ansible::{ansible_available, hvguard_bin, playbooks, recap, run_playbook};
use common::{copy_tree, fixture, workspace};
use serde_json::Value;

/// A node root: a copy of a fixture host with its own host name.
fn node_root(work: &Path, node: &str, fixture_name: &str) -> PathBuf {
    let root = work.join("roots").join(node);
    copy_tree(&fixture(fixture_name), &root);
    std::fs::write(root.join("etc/hostname"), format!("{node}\n")).unwrap();
    let kernel = root.join("proc/sys/kernel/hostname");
    if kernel.exists() {
        std::fs::write(kernel, format!("{node}\n")).unwrap();
    }
    root
}

/// A YAML (here: JSON) inventory of `kata_nodes`: local connection, this build of hvguard,
/// no advisory store and an empty policy whatever the machine has.
fn inventory(work: &Path, results: &Path, hosts: Value, extra_vars: Value) -> PathBuf {
    let mut vars = serde_json::json!({
        "ansible_connection": "local",
        "ansible_python_interpreter": "/usr/bin/python3",
        "hvguard_bin": hvguard_bin(),
        "hvguard_results_dir": results,
        "hvguard_reports_dir": results,
        "hvguard_environment": {
            "HVGUARD_DB": "/nonexistent/hvguard-tests/advisories.db",
            "HVGUARD_POLICY": workspace().join("tests/fixtures/policy/empty.toml"),
            "NO_COLOR": "1",
        },
    });
    for (k, v) in extra_vars.as_object().unwrap() {
        vars[k] = v.clone();
    }
    let inventory = serde_json::json!({"kata_nodes": {"hosts": hosts, "vars": vars}});
    let path = work.join("inventory.yml");
    std::fs::write(&path, serde_json::to_vec_pretty(&inventory).unwrap()).unwrap();
    path
}

fn fleet_report(dir: &Path) -> Value {
    let out = common::hvguard()
        .args([
            "fleet",
            "report",
            "--format",
            "json",
            "--max-age",
            "1000000",
        ])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn every_playbook_passes_the_syntax_check() {
    if !ansible_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    for playbook in [
        "hypervisor-update.yml",
        "hvguard-audit.yml",
        "hvguard-install.yml",
    ] {
        let (code, out) = run_playbook(
            work.path(),
            &playbooks().join("inventory.example.ini"),
            playbook,
            &["--syntax-check"],
        );
        assert_eq!(code, 0, "{playbook}:\n{out}");
    }
}

#[test]
fn the_rollout_goes_in_waves_and_stops_at_the_first_unhealthy_node() {
    if !ansible_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let results = work.path().join("results");
    let mut hosts = serde_json::Map::new();
    for i in 1..=8 {
        let node = format!("node-{i}");
        // node-5, in the third wave (1, 10 % = 1, 50 % = 4 of 8), runs a Kata install with a
        // critical finding; every other node is healthy at --fail-on critical.
        let fixture_name = if i == 5 {
            "kata-static"
        } else {
            "amd-sev-snp-hardened"
        };
        let root = node_root(work.path(), &node, fixture_name);
        hosts.insert(node, serde_json::json!({"hvguard_root": root}));
    }
    let inv = inventory(
        work.path(),
        &results,
        hosts.into(),
        // Read-only: the journal listing stands in for `update apply`.
        serde_json::json!({
            "hvguard_update_args": "update history --format json",
            "hvguard_gate_fail_on": "critical",
        }),
    );
    let (code, out) = run_playbook(work.path(), &inv, "hypervisor-update.yml", &[]);
    assert_eq!(code, 2, "ansible reports the failed node:\n{out}");
    // The waves, in the order they ran (each node of a wave logs the whole wave).
    let mut waves: Vec<String> = Vec::new();
    for line in out.lines() {
        if let Some(rest) = line.trim().strip_prefix("\"msg\": \"wave of ") {
            let members = rest.split_once(": ").unwrap().1.trim_end_matches('"');
            if waves.last().map(String::as_str) != Some(members) {
                waves.push(members.to_owned());
            }
        }
    }
    assert_eq!(
        waves,
        ["node-1", "node-2", "node-3, node-4, node-5, node-6"],
        "{out}"
    );
    let recap = recap(&out);
    assert_eq!(recap.get("node-5"), Some(&1), "{out}");
    for node in ["node-1", "node-2", "node-3", "node-4", "node-6"] {
        assert_eq!(recap.get(node), Some(&0), "{node}:\n{out}");
    }
    assert!(
        !recap.contains_key("node-7") && !recap.contains_key("node-8"),
        "{out}"
    );
    assert!(out.contains("health gate on node-5"), "{out}");
    assert!(out.contains("findings at or above critical"), "{out}");
    // What reached the controller: a result and a gate report for every node that ran.
    for i in 1..=6 {
        assert!(results.join(format!("node-{i}.report.json")).is_file());
        let output =
            std::fs::read_to_string(results.join(format!("node-{i}.update-output.txt"))).unwrap();
        assert!(output.contains("hvguard.update-history/v1"), "{output}");
    }
    for i in 7..=8 {
        assert!(!results.join(format!("node-{i}.report.json")).exists());
        assert!(!results.join(format!("node-{i}.update-output.txt")).exists());
    }
    // ... and the fleet report reads it: node-5 is the worst.
    let fleet = fleet_report(&results);
    assert_eq!(fleet["nodes"], 6);
    assert_eq!(fleet["hosts"][0]["node"], "node-5");
    assert_eq!(fleet["hosts"][0]["worst"], "critical");
    assert_eq!(fleet["by_severity"]["critical"], 1);
}

/// An update result as `hvguard update apply --format json` writes it (the real one from
/// crates/fleet/tests/fixtures), for `node`, with `result` and `stages`.
fn canned_result(dir: &Path, node: &str, result: &str, stages: Value) -> PathBuf {
    let real = workspace().join("crates/fleet/tests/fixtures/nodes/vm.update-result.json");
    let mut value: Value = serde_json::from_slice(&std::fs::read(real).unwrap()).unwrap();
    value["result"] = result.into();
    value["stages"] = stages;
    value["host"]["hostname"] = node.into();
    value["generated_at"] = jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap()
        .to_string()
        .into();
    let path = dir.join(format!("{node}-{result}.json"));
    std::fs::write(&path, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
    path
}

#[test]
fn update_results_are_judged_by_their_json_and_other_output_by_its_exit_code() {
    if !ansible_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let results = work.path().join("results");
    let canned = work.path().join("canned");
    std::fs::create_dir_all(&canned).unwrap();
    let updated = canned_result(
        &canned,
        "node-a",
        "updated",
        serde_json::json!([{"name": "install", "ok": true, "ms": 4200, "detail": "installed"}]),
    );
    let rolled_back = canned_result(
        &canned,
        "node-b",
        "rolled-back",
        serde_json::json!([
            {"name": "install", "ok": true, "ms": 4200, "detail": "installed"},
            {"name": "verify", "ok": false, "ms": 300, "detail": "the installed build did not start"},
            {"name": "rollback", "ok": true, "ms": 3900, "detail": "reinstalled the saved versions"}
        ]),
    );
    let mut hosts = serde_json::Map::new();
    for (node, command) in [
        ("node-a", format!("/bin/cat {}", updated.display())),
        // Exit 0, but the JSON says the update was rolled back: a failed node.
        ("node-b", format!("/bin/cat {}", rolled_back.display())),
        // Not JSON, exit 1: a failed node.
        (
            "node-c",
            "/bin/cat /nonexistent/update-result.json".to_owned(),
        ),
    ] {
        let root = node_root(work.path(), node, "amd-sev-snp-hardened");
        hosts.insert(
            node.to_owned(),
            serde_json::json!({"hvguard_root": root, "hvguard_update_command": command}),
        );
    }
    let inv = inventory(
        work.path(),
        &results,
        hosts.into(),
        serde_json::json!({"hvguard_gate_fail_on": "critical"}),
    );
    let (code, out) = run_playbook(
        work.path(),
        &inv,
        "hypervisor-update.yml",
        &["-e", r#"{"hvguard_waves": [1, 2]}"#],
    );
    assert_eq!(code, 2, "{out}");
    let recap = recap(&out);
    assert_eq!(recap.get("node-a"), Some(&0), "{out}");
    assert_eq!(recap.get("node-b"), Some(&1), "{out}");
    assert_eq!(recap.get("node-c"), Some(&1), "{out}");
    assert!(
        out.contains("update on node-b: result rolled-back, exit 0; stage verify: the installed build did not start"),
        "{out}"
    );
    assert!(
        out.contains("update on node-c: output is not an update result, exit 1"),
        "{out}"
    );
    // The update results reached the controller, the failed one included; the fleet report
    // lists it for attention.
    assert!(results.join("node-a.update-result.json").is_file());
    assert!(results.join("node-b.update-result.json").is_file());
    assert!(results.join("node-c.update-output.txt").is_file());
    // node-b and node-c stopped before the gate: only node-a has a gate report.
    assert!(results.join("node-a.report.json").is_file());
    assert!(!results.join("node-b.report.json").exists());
    let fleet = fleet_report(&results);
    assert_eq!(fleet["updates"]["results"]["updated"], 1);
    assert_eq!(fleet["updates"]["attention"][0]["node"], "node-b");
    assert_eq!(fleet["updates"]["attention"][0]["stage"], "verify");
}

#[test]
fn the_audit_playbook_feeds_the_fleet_report() {
    if !ansible_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let results = work.path().join("audit");
    let mut hosts = serde_json::Map::new();
    for (node, fixture_name) in [
        ("audit-1", "intel-problems"),
        ("audit-2", "kata-static"),
        ("audit-3", "cloud-vm-no-kvm"),
        ("audit-4", "amd-sev-snp-hardened"),
    ] {
        let root = node_root(work.path(), node, fixture_name);
        hosts.insert(node.to_owned(), serde_json::json!({"hvguard_root": root}));
    }
    let inv = inventory(work.path(), &results, hosts.into(), serde_json::json!({}));
    let out_base = work.path().join("fleet-report");
    let extra = serde_json::json!({
        "hvguard_fleet_report": true,
        "hvguard_controller_bin": hvguard_bin(),
        "hvguard_reports_dir": results,
        "hvguard_fleet_report_out": out_base,
    })
    .to_string();
    let (code, out) = run_playbook(work.path(), &inv, "hvguard-audit.yml", &["-e", &extra]);
    assert_eq!(code, 0, "{out}");
    for node in ["audit-1", "audit-2", "audit-3", "audit-4"] {
        assert!(results.join(format!("{node}.json")).is_file(), "{out}");
    }
    let fleet: Value =
        serde_json::from_slice(&std::fs::read(out_base.with_extension("json")).unwrap()).unwrap();
    assert_eq!(fleet["schema"], "hvguard.fleet/v1");
    assert_eq!(fleet["nodes"], 4);
    let names: Vec<&str> = fleet["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["node"].as_str().unwrap())
        .collect();
    assert_eq!(
        names[0], "audit-2",
        "the critical Kata node first: {names:?}"
    );
    let html = std::fs::read_to_string(out_base.with_extension("html")).unwrap();
    assert!(html.contains("<svg") && html.contains("audit-2"));
}

#[test]
fn the_role_installs_the_binary_and_a_policy_hvguard_accepts() {
    if !ansible_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let inv = inventory(
        work.path(),
        &work.path().join("results"),
        serde_json::json!({"role-node": {}}),
        serde_json::json!({}),
    );
    let prefix = work.path().join("node");
    let vars = |window_days: &[&str]| {
        serde_json::json!({
            "hvguard_binary": hvguard_bin(),
            "hvguard_bin_path": prefix.join("usr/local/bin/hvguard"),
            "hvguard_policy_path": prefix.join("etc/hvguard/policy.toml"),
            "hvguard_manage_timers": false,
            // A fixture host instead of this machine: the check stays quick and the same
            // everywhere (the destructive test keeps the default, the node itself).
            "hvguard_policy_check_root": workspace().join("tests/fixtures/hosts/kata-static"),
            "hvguard_update_window": {"days": window_days, "start": "02:00", "end": "05:00"},
            "hvguard_update_hold": ["qemu-block-extra"],
            "hvguard_accept": [{"id": "CVE-2021-3929", "reason": "NVMe is never attached \"here\"",
                                "expires": "2030-01-31"}],
        })
        .to_string()
    };
    let (code, out) = run_playbook(
        work.path(),
        &inv,
        "hvguard-install.yml",
        &["-e", &vars(&["tue", "wed"])],
    );
    assert_eq!(code, 0, "{out}");
    let installed = prefix.join("usr/local/bin/hvguard");
    let version = Command::new(&installed).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("hvguard "));
    let policy = std::fs::read_to_string(prefix.join("etc/hvguard/policy.toml")).unwrap();
    assert!(
        policy.contains(r#"window = { days = ["tue", "wed"], start = "02:00", end = "05:00" }"#),
        "{policy}"
    );
    assert!(
        policy.contains(r#"reason = "NVMe is never attached \"here\"""#),
        "{policy}"
    );
    // hvguard itself reads the written policy: the acceptance applies.
    let scan = common::hvguard()
        .env("HVGUARD_POLICY", prefix.join("etc/hvguard/policy.toml"))
        .args(["scan", "--format", "json", "--root"])
        .arg(fixture("intel-problems"))
        .output()
        .unwrap();
    assert!(
        scan.status.code().unwrap() < 2,
        "{}",
        String::from_utf8_lossy(&scan.stderr)
    );

    // A policy hvguard refuses stops the role, naming the file and line.
    let (code, out) = run_playbook(
        work.path(),
        &inv,
        "hvguard-install.yml",
        &["-e", &vars(&["someday"])],
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("Check that hvguard accepts the policy"),
        "{out}"
    );
    assert!(out.contains("policy.toml:"), "{out}");
}
