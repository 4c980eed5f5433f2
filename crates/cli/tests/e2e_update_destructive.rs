//! The destructive suite: `hvguard update` against the real apt/dpkg of this Debian machine,
//! with the two `qemu-system-x86` versions the archive offers (picked from `apt-cache
//! madison`, never hard-coded). It downgrades QEMU and its sibling packages, then checks
//! `status`, a failing smoke gate, the network being unreachable, `apply`, `drill` and a
//! rollback after a failed verify (all tested by the smoke gate booting the test guest with the
//! staged candidate and the installed build), and a SIGKILL during the install. It changes
//! installed packages, so it runs only with `HVGUARD_DESTRUCTIVE_TESTS=1` (set by `.ci/run`),
//! as root.
//!
//! Other tests read `/usr/bin/qemu-system-x86_64`: the downgraded windows are short and a
//! guard reinstalls the newest version when the test ends, panics included.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;
#[path = "../../smoke/tests/support/guest.rs"]
mod guest;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::apt::{enabled, wait_for_dpkg, Restore, Versions};

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn cmd(&self) -> assert_cmd::Command {
        let mut c = common::hvguard();
        c.env("HVGUARD_DB", self.dir.path().join("advisories.db"))
            .env("HVGUARD_STATE_DIR", self.dir.path().join("state"));
        c
    }

    fn policy(&self, text: &str) -> PathBuf {
        let p = self.dir.path().join("policy.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    fn run(&self, args: &[&str]) -> (i32, Value, String) {
        let out = self.cmd().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{args:?}: not JSON ({e}): {}\n{stderr}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        (out.status.code().unwrap(), value, stderr)
    }
}

fn stage<'a>(result: &'a Value, name: &str) -> &'a Value {
    result["stages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no stage {name} in {result}"))
}

/// The policy of the smoke-gated runs: the test guest, and `extra` (an `[update]` table).
fn smoke_policy(env: &Env, guest: &guest::Guest, extra: &str) -> PathBuf {
    env.policy(&format!(
        "{extra}\n[smoke]\nkernel = \"{}\"\ninitrd = \"{}\"\ntimeout_s = 120\n",
        guest.kernel.display(),
        guest.initrd.display()
    ))
}

/// `update apply` with the smoke gate (the default) and `policy`.
fn apply_smoke(policy: &Path) -> Vec<String> {
    let mut args: Vec<String> = ["update", "apply", "--yes", "--now", "--format", "json"]
        .map(String::from)
        .to_vec();
    args.extend(["--policy".to_owned(), policy.display().to_string()]);
    args
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// `update apply` with the QEMU start probe (for the runs that never reach the gate, or
/// run without a policy).
const APPLY: [&str; 8] = [
    "update",
    "apply",
    "--yes",
    "--now",
    "--gate",
    "qemu-start",
    "--format",
    "json",
];

#[test]
fn qemu_updates_for_real_with_apt() {
    if !enabled() {
        return;
    }
    let Some(guest) = guest::guest() else {
        return;
    };
    let versions = Versions::find();
    let _restore = Restore(&versions);
    let env = Env {
        dir: tempfile::tempdir().unwrap(),
    };
    let newest = versions.newest[0].1.clone();

    // 1. Status on the old version: the candidate, and CVE-2025-11234 read from the
    // candidate's changelog (the installed changelog does not name it).
    versions.downgrade();
    let (code, status, _) = env.run(&["update", "status", "--format", "json"]);
    assert_eq!(status["schema"], "hvguard.update-status/v1");
    let qemu = status["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["package"] == "qemu-system-x86")
        .unwrap()
        .clone();
    assert_eq!(qemu["installed"], versions.oldest[0].1.as_str());
    assert_eq!(qemu["candidate"], newest.as_str());
    let fix = qemu["fixes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "CVE-2025-11234")
        .unwrap_or_else(|| panic!("CVE-2025-11234 not among the fixes: {qemu}"));
    assert!(
        fix["evidence"].as_str().unwrap().contains("changelog"),
        "{fix}"
    );
    assert!(status["evidence_recorded"].as_u64().unwrap() >= 1);
    assert_eq!(code, 1, "overdue advisories make status exit 1");
    // ... and scan now knows it, judged by the candidate's changelog.
    let out = env
        .cmd()
        .args(["scan", "--format", "json", "--fail-on", "critical"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let seen = report["findings"].as_array().unwrap().iter().find(|f| {
        f["advisory"]["id"] == "CVE-2025-11234"
            && f["location"]["path"] == "/usr/bin/qemu-system-x86_64"
    });
    let seen = seen.expect("scan reports CVE-2025-11234 after update status");
    assert!(seen["evidence"]
        .as_str()
        .unwrap()
        .contains("changelog.Debian.gz"));

    // 2. No network: every download goes to a closed port. A clear error, nothing changed.
    let mut args = APPLY.to_vec();
    args.extend([
        "--apt-option",
        "Acquire::http::Proxy=http://127.0.0.1:9",
        "--apt-option",
        "Acquire::https::Proxy=http://127.0.0.1:9",
    ]);
    let (code, result, _) = env.run(&args);
    assert_eq!(code, 1, "{result}");
    assert_eq!(result["result"], "refused");
    let failed = result["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["ok"] == false)
        .unwrap();
    assert!(
        failed["detail"].as_str().unwrap().contains("127.0.0.1"),
        "{failed}"
    );
    assert!(versions.at_oldest());

    // 3. A smoke gate that cannot pass (max_boot_ms = 1): the staged candidate booted the
    // test guest, too slowly; nothing installed, exit 1.
    let strict = smoke_policy(&env, &guest, "[update]\nmax_boot_ms = 1");
    let (code, result, _) = env.run(&strs(&apply_smoke(&strict)));
    assert_eq!(code, 1, "{result}");
    assert_eq!(result["result"], "refused");
    let smoke = stage(&result, "smoke");
    assert_eq!(smoke["ok"], false);
    let detail = smoke["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("smoke gate: candidate {newest} median"))
            && detail.contains("/staging/")
            && detail.contains("max_boot_ms = 1"),
        "{smoke}"
    );
    assert!(result["stages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["name"] != "install"));
    assert!(versions.at_oldest());

    // 4. Apply, with a VM running the old binary: dpkg shows the candidate, and the report
    // names the sandbox that still runs the old QEMU.
    let old_vm = Command::new("/usr/bin/qemu-system-x86_64")
        .args([
            "-machine",
            "none",
            "-accel",
            "tcg",
            "-S",
            "-nodefaults",
            "-display",
            "none",
        ])
        .args([
            "-monitor",
            "none",
            "-serial",
            "none",
            "-name",
            "sandbox-destructive",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let old_vm = Kill(old_vm);
    std::thread::sleep(Duration::from_millis(300));
    // The smoke gate boots the staged candidate and the installed build (regression check),
    // then the installed candidate in the verify stage.
    let gated = smoke_policy(&env, &guest, "[update]\nmax_boot_regression_percent = 200");
    let (code, result, _) = env.run(&strs(&apply_smoke(&gated)));
    assert_eq!(code, 0, "{result}");
    assert_eq!(result["result"], "updated");
    assert!(versions.at_newest());
    let smoke = stage(&result, "smoke")["detail"].as_str().unwrap();
    eprintln!("smoke stage: {smoke}");
    assert!(
        smoke.contains(&format!("smoke gate: candidate {newest} median"))
            && smoke.contains(&format!("installed {} median", versions.oldest[0].1))
            && smoke.contains("within 200%")
            && smoke.contains("HVGUARD-SMOKE-OK"),
        "{smoke}"
    );
    let verify = stage(&result, "verify")["detail"].as_str().unwrap();
    assert!(
        verify.contains("smoke gate: installed qemu-system-x86 median"),
        "{verify}"
    );
    let names: Vec<&str> = result["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "preflight",
            "artifacts",
            "stage",
            "smoke",
            "install",
            "verify",
            "report"
        ]
    );
    let users = result["running_on_old_binary"].as_array().unwrap();
    assert!(
        users
            .iter()
            .any(|u| u["pid"] == old_vm.0.id() && u["sandbox"] == "sandbox-destructive"),
        "{result}"
    );
    drop(old_vm);
    let artifacts = stage(&result, "artifacts")["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(artifacts.contains("sha256"), "{artifacts}");

    // 5. Drill: installs the candidate, verifies, rolls back, verifies; ends at the old one.
    versions.downgrade();
    let (code, result, _) = env.run(&[
        "update",
        "drill",
        "--yes",
        "--now",
        "--format",
        "json",
        "--policy",
        gated.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{result}");
    assert_eq!(result["result"], "rolled-back");
    assert!(stage(&result, "verify-rollback")["detail"]
        .as_str()
        .unwrap()
        .contains("smoke gate"));
    assert_eq!(stage(&result, "verify")["ok"], true);
    assert_eq!(stage(&result, "verify-rollback")["ok"], true);
    assert!(versions.at_oldest());

    // 6. A verify that fails after the install: a one-shot dpkg hook deletes the TCG module
    // the new build needs, the installed binary cannot start, the saved versions go back.
    let flag = env.dir.path().join("break-once");
    std::fs::write(&flag, b"").unwrap();
    let hook = format!(
        "DPkg::Post-Invoke::=if [ -e {f} ]; then rm -f {f} /usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so; fi",
        f = flag.display()
    );
    let mut args = apply_smoke(&gated);
    args.extend(["--apt-option".to_owned(), hook]);
    let (code, result, _) = env.run(&strs(&args));
    assert_eq!(code, 1, "{result}");
    assert_eq!(result["result"], "rolled-back");
    let verify = stage(&result, "verify");
    assert_eq!(verify["ok"], false);
    assert!(
        verify["detail"].as_str().unwrap().contains("tcg"),
        "{verify}"
    );
    assert_eq!(stage(&result, "verify-rollback")["ok"], true);
    assert!(versions.at_oldest());
    assert!(Path::new("/usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so").exists());

    // 7. SIGKILL during the install: the next status reports the interrupted transaction
    // and rollback recovers the saved versions.
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("hvguard"))
        .args(APPLY)
        .env("HVGUARD_DB", env.dir.path().join("advisories.db"))
        .env("HVGUARD_STATE_DIR", env.dir.path().join("state"))
        .env(
            "HVGUARD_POLICY",
            common::workspace().join("tests/fixtures/policy/empty.toml"),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut saw_install = false;
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        if line.contains("stage install: started") {
            saw_install = true;
            break;
        }
    }
    assert!(saw_install, "apply never reached the install stage");
    // Kill it while apt holds dpkg's lock: mid-install, not before apt even started.
    let root = hvguard_core::HostRoot::live();
    let deadline = Instant::now() + Duration::from_secs(60);
    while hvguard_update::locks::dpkg_lock_holder(&root).is_none() {
        assert!(Instant::now() < deadline, "apt never took the dpkg lock");
        std::thread::sleep(Duration::from_millis(5));
    }
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&child),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    let _ = child.wait();
    wait_for_dpkg();
    let (code, status, _) = env.run(&["update", "status", "--offline", "--format", "json"]);
    assert_eq!(code, 1);
    let interrupted = status["interrupted"].as_array().unwrap();
    assert_eq!(interrupted.len(), 1, "{status}");
    assert_eq!(interrupted[0]["stage"], "install");
    // A new apply refuses until the interrupted transaction is resolved.
    let (code, result, _) = env.run(&APPLY);
    assert!(code == 1 || code == 0, "{result}");
    if code == 1 {
        assert!(stage(&result, "preflight")["detail"]
            .as_str()
            .unwrap()
            .contains("interrupted"));
    }
    let (code, result, _) = env.run(&[
        "update",
        "rollback",
        "--yes",
        "--gate",
        "qemu-start",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{result}");
    assert_eq!(result["result"], "rolled-back");
    assert!(versions.at_oldest());
    let (_, status, _) = env.run(&["update", "status", "--offline", "--format", "json"]);
    assert!(
        status["interrupted"].as_array().unwrap().is_empty(),
        "{status}"
    );

    // 8. The journal holds every transaction; the guard leaves the newest installed.
    let out = env
        .cmd()
        .args(["update", "history", "--format", "json"])
        .output()
        .unwrap();
    let history: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(history["transactions"].as_array().unwrap().len() >= 6);
}
