//! The destructive part of the fleet suite: one real run of hypervisor-update.yml on
//! localhost upgrades Debian's QEMU from the older to the newer archive version through
//! `hvguard update apply`, then the health gate and the saved result are checked. It changes
//! installed packages, so it runs only with `HVGUARD_DESTRUCTIVE_TESTS=1` (set by `.ci/run`),
//! as root; the guard shared with the update suite reinstalls the newest QEMU however the
//! test ends, and the downgraded window lasts one playbook run.
//!
//! The update's boot gate is the default, `smoke`: the staged candidate boots the test guest
//! that `scripts/build-test-guest` builds (named in the node's policy) before anything is
//! installed, as on a real node.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;
#[path = "../../smoke/tests/support/guest.rs"]
mod guest;

use common::ansible::{ansible_available, hvguard_bin, recap, run_playbook};
use common::apt::{enabled, Restore, Versions};
use serde_json::Value;

#[test]
fn the_playbook_upgrades_debians_qemu_on_localhost() {
    if !enabled() || !ansible_available() {
        return;
    }
    let Some(guest) = guest::guest() else {
        return;
    };
    let versions = Versions::find();
    let _restore = Restore(&versions);
    let work = tempfile::tempdir().unwrap();
    // TCG boots of the test guest take about 2 s here; the regression check is the update
    // suite's business (e2e_update_destructive.rs).
    let policy = work.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "[update]\nmax_boot_ms = 60000\n\n[smoke]\nkernel = \"{}\"\ninitrd = \"{}\"\ntimeout_s = 120\n",
            guest.kernel.display(),
            guest.initrd.display()
        ),
    )
    .unwrap();
    let results = work.path().join("results");
    let inventory = serde_json::json!({"kata_nodes": {
        "hosts": {"qemu-node": {}},
        "vars": {
            "ansible_connection": "local",
            "ansible_python_interpreter": "/usr/bin/python3",
            "hvguard_bin": hvguard_bin(),
            "hvguard_update_args": "update apply --yes --now --format json",
            // This machine has high findings of its own (CPU vulnerabilities of a nested
            // VM); the gate that must hold after the update is "nothing critical".
            "hvguard_gate_fail_on": "critical",
            "hvguard_results_dir": results,
            "hvguard_environment": {
                "HVGUARD_DB": work.path().join("advisories.db"),
                "HVGUARD_STATE_DIR": work.path().join("state"),
                "HVGUARD_POLICY": policy,
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
    let smoke = result["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "smoke")
        .unwrap_or_else(|| panic!("no smoke stage in {result}"));
    assert_eq!(smoke["ok"], true, "{result}");
    assert!(
        smoke["detail"]
            .as_str()
            .is_some_and(|d| d.contains("smoke gate: candidate")),
        "the candidate booted the test guest: {smoke}"
    );
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

/// Removes the test package when dropped, whatever happened.
struct Purge(&'static str);

impl Drop for Purge {
    fn drop(&mut self) {
        common::apt::wait_for_dpkg();
        let _ = std::process::Command::new("/usr/bin/dpkg")
            .args(["--purge", self.0])
            .output();
    }
}

/// The role's `.deb` path, for real: a package built here with `dpkg-deb` around this
/// build's binary (the packaging work's `cargo deb` output installs the same way) is copied
/// to the node and installed with apt, then hvguard from it checks the policy.
#[test]
fn the_role_installs_a_deb_with_apt() {
    if !enabled() || !ansible_available() {
        return;
    }
    const PACKAGE: &str = "hvguard-ansible-test";
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("pkg");
    std::fs::create_dir_all(tree.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(tree.join("usr/bin")).unwrap();
    std::fs::copy(hvguard_bin(), tree.join("usr/bin").join(PACKAGE)).unwrap();
    std::fs::write(
        tree.join("DEBIAN/control"),
        format!(
            "Package: {PACKAGE}\nVersion: 0.1.0-1\nArchitecture: amd64\nMaintainer: hvguard \
             <dev@hvguard.invalid>\nDescription: hvguard built for the Ansible role test\n"
        ),
    )
    .unwrap();
    let deb = work.path().join(format!("{PACKAGE}_0.1.0-1_amd64.deb"));
    let built = std::process::Command::new("/usr/bin/dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .arg(&tree)
        .arg(&deb)
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let _purge = Purge(PACKAGE);
    let inventory = serde_json::json!({"kata_nodes": {
        "hosts": {"deb-node": {}},
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3"},
    }});
    let inv = work.path().join("inventory.yml");
    std::fs::write(&inv, serde_json::to_vec(&inventory).unwrap()).unwrap();
    let vars = serde_json::json!({
        "hvguard_deb": deb,
        "hvguard_deb_cache": work.path().join("cache"),
        "hvguard_bin_path": format!("/usr/bin/{PACKAGE}"),
        "hvguard_policy_path": work.path().join("etc/hvguard/policy.toml"),
        "hvguard_manage_timers": false,
    })
    .to_string();
    let (code, out) = run_playbook(work.path(), &inv, "hvguard-install.yml", &["-e", &vars]);
    assert_eq!(code, 0, "{out}");
    let status = std::process::Command::new("/usr/bin/dpkg-query")
        .args(["-W", "-f=${Status} ${Version}", PACKAGE])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&status.stdout),
        "install ok installed 0.1.0-1"
    );
    assert!(
        out.contains("Check that hvguard accepts the policy"),
        "{out}"
    );
    // A second run changes nothing: apt sees the version installed.
    let (code, out) = run_playbook(work.path(), &inv, "hvguard-install.yml", &["-e", &vars]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("changed=0"), "{out}");
}
