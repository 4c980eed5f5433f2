//! The destructive part of the fleet suite: one real run of hypervisor-update.yml on
//! localhost upgrades Debian's QEMU from the older to the newer archive version through
//! `hvguard update apply`, then the health gate and the saved result are checked. It changes
//! installed packages, so it runs only with `HVGUARD_DESTRUCTIVE_TESTS=1` (set by `.ci/run`),
//! as root; the guard shared with the update suite reinstalls the newest QEMU however the
//! test ends, and the downgraded window lasts one playbook run.
//!
//! The update's boot gate is `--gate qemu-start` (the QEMU start probe): the `hvguard smoke`
//! gate is not wired into `update` in this build, so the playbook's smoke step stays off.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::ansible::{ansible_available, hvguard_bin, recap, run_playbook};
use common::apt::{enabled, Restore, Versions};
use common::workspace;
use serde_json::Value;

#[test]
fn the_playbook_upgrades_debians_qemu_on_localhost() {
    if !enabled() || !ansible_available() {
        return;
    }
    let versions = Versions::find();
    let _restore = Restore(&versions);
    let work = tempfile::tempdir().unwrap();
    let results = work.path().join("results");
    let inventory = serde_json::json!({"kata_nodes": {
        "hosts": {"qemu-node": {}},
        "vars": {
            "ansible_connection": "local",
            "ansible_python_interpreter": "/usr/bin/python3",
            "hvguard_bin": hvguard_bin(),
            "hvguard_update_args": "update apply --yes --now --gate qemu-start --format json",
            // This machine has high findings of its own (CPU vulnerabilities of a nested
            // VM); the gate that must hold after the update is "nothing critical".
            "hvguard_gate_fail_on": "critical",
            "hvguard_results_dir": results,
            "hvguard_environment": {
                "HVGUARD_DB": work.path().join("advisories.db"),
                "HVGUARD_STATE_DIR": work.path().join("state"),
                "HVGUARD_POLICY": workspace().join("tests/fixtures/policy/empty.toml"),
                "NO_COLOR": "1",
            },
        },
    }});
    let inv = work.path().join("inventory.yml");
    std::fs::write(&inv, serde_json::to_vec_pretty(&inventory).unwrap()).unwrap();

    versions.downgrade();
    let (code, out) = run_playbook(work.path(), &inv, "hypervisor-update.yml", &[]);
    assert_eq!(code, 0, "{out}");
    assert!(versions.at_newest(), "the playbook installed the candidate");
    assert_eq!(recap(&out).get("qemu-node"), Some(&0), "{out}");

    let result: Value = serde_json::from_slice(
        &std::fs::read(results.join("qemu-node.update-result.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(result["schema"], "hvguard.update-result/v1");
    assert_eq!(result["result"], "updated", "{result}");
    let newest = &versions.newest[0].1;
    assert!(
        result["components"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["package"] == "qemu-system-x86" && c["to"] == newest.as_str()),
        "{result}"
    );
    assert!(results.join("qemu-node.report.json").is_file());
    let fleet = common::hvguard()
        .args(["fleet", "report", "--format", "json"])
        .arg(&results)
        .output()
        .unwrap();
    let fleet: Value = serde_json::from_slice(&fleet.stdout).unwrap();
    assert_eq!(fleet["nodes"], 1);
    assert_eq!(fleet["updates"]["results"]["updated"], 1);
}
