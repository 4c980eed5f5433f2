//! `hvguard update` end to end, without changing installed packages: the status contract on
//! the live host, the lock, bad policy, confirmation, history, the smoke gate's input errors,
//! and a static Kata release (a tarball assembled here from Debian's QEMU, its modules and
//! firmware, and the test guest, in Kata's layout) smoke-booted, applied and rolled back in a
//! temporary `/opt`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;
#[path = "../../smoke/tests/support/guest.rs"]
mod guest;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

const QEMU: &str = "/usr/bin/qemu-system-x86_64";
const MODULES: &str = "/usr/lib/x86_64-linux-gnu/qemu";

fn have_qemu() -> bool {
    if Path::new(QEMU).exists() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI: {QEMU} is missing (.ci/run installs qemu-system-x86)"
    );
    eprintln!("SKIPPED: {QEMU} is not installed");
    false
}

/// A private state folder and store for one test.
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn db(&self) -> PathBuf {
        self.dir.path().join("advisories.db")
    }
    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }
    fn cmd(&self) -> assert_cmd::Command {
        let mut c = common::hvguard();
        c.env("HVGUARD_DB", self.db())
            .env("HVGUARD_STATE_DIR", self.state());
        c
    }
    fn policy(&self, text: &str) -> PathBuf {
        let p = self.dir.path().join("policy.toml");
        std::fs::write(&p, text).unwrap();
        p
    }
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn status_names_its_schema_and_the_packaged_qemu() {
    if !have_qemu() {
        return;
    }
    let env = Env::new();
    let out = env
        .cmd()
        .args(["update", "status", "--offline", "--format", "json"])
        .output()
        .unwrap();
    let code = out.status.code().unwrap();
    assert!(code == 0 || code == 1, "{out:?}");
    let report = json(&out);
    assert_eq!(report["schema"], "hvguard.update-status/v1");
    let qemu = report["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["package"] == "qemu-system-x86")
        .expect("Debian's QEMU is a component");
    assert_eq!(qemu["manager"], "dpkg");
    assert_eq!(qemu["source"], "qemu");
    assert_eq!(qemu["kind"], "qemu");
    for key in ["installed", "candidate", "fixes", "overdue", "paths"] {
        assert!(qemu.get(key).is_some(), "{key} missing: {qemu}");
    }
    // Overdue advisories make the exit code 1, and only they (or an interrupted transaction).
    let overdue = report["components"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| !c["overdue"].as_array().unwrap().is_empty());
    assert_eq!(code, i32::from(overdue));
}

#[test]
fn a_held_lock_names_its_holder_and_exits_2() {
    let env = Env::new();
    let _held =
        hvguard_update::locks::take_update_lock(&env.state().join("update.lock"), "update apply")
            .unwrap();
    let out = env
        .cmd()
        .args(["update", "apply", "--yes", "--gate", "qemu-start"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "pid {} (hvguard update apply)",
            std::process::id()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("update.lock"), "{stderr}");
}

#[test]
fn bad_policy_and_missing_confirmation_are_input_errors() {
    let env = Env::new();
    let policy = env.policy(
        "[update]\nsla_days = { high = 7 }\nwindow = { start = \"2:00\", end = \"26:00\" }\n",
    );
    let out = env
        .cmd()
        .args(["update", "status", "--offline", "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:3:", policy.display())),
        "{stderr}"
    );
    // No --yes and no terminal: refused before anything runs.
    let out = env.cmd().args(["update", "apply"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("without --yes"));
    let out = env.cmd().args(["update", "history"]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("no update transactions"));
}

/// Builds a `kata-static` tarball of `version` in Kata's layout (`./opt/kata/...`) from
/// Debian's QEMU, its modules and firmware, and the test guest, and returns it with its
/// SHA-256.
fn kata_tarball(work: &Path, version: &str, guest: &guest::Guest) -> (PathBuf, String) {
    let src = work.join(format!("src-{version}"));
    let kata = src.join("opt/kata");
    populate_release(&kata, version, guest);
    let file = work.join(format!("kata-static-{version}-amd64.tar.xz"));
    let ok = std::process::Command::new("tar")
        .args(["-c", "-J", "-f"])
        .arg(&file)
        .arg("-C")
        .arg(&src)
        .arg("./opt")
        // The kernel does not compress further; the fastest level keeps the test short.
        .env("XZ_OPT", "-0 -T0")
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let sha = hvguard_update::state::sha256_file(&file).unwrap();
    (file, sha)
}

/// A release folder as kata-static lays it out: `bin/`, the QEMU modules, the firmware a
/// Debian-built QEMU looks for beside its `bin/` (`share/qemu`, `share/seabios`), and the
/// guest under `share/kata-containers/` with Kata's file names.
fn populate_release(kata: &Path, version: &str, guest: &guest::Guest) {
    std::fs::create_dir_all(kata.join("bin")).unwrap();
    std::fs::create_dir_all(kata.join("share/defaults/kata-containers")).unwrap();
    std::fs::write(kata.join("VERSION"), format!("{version}\n")).unwrap();
    std::fs::copy(QEMU, kata.join("bin/qemu-system-x86_64")).unwrap();
    let modules = kata.join("lib/x86_64-linux-gnu/qemu");
    std::fs::create_dir_all(&modules).unwrap();
    for entry in std::fs::read_dir(MODULES).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), modules.join(entry.file_name())).unwrap();
    }
    for data in ["qemu", "seabios"] {
        common::copy_tree(
            &Path::new("/usr/share").join(data),
            &kata.join("share").join(data),
        );
    }
    let assets = kata.join("share/kata-containers");
    std::fs::create_dir_all(&assets).unwrap();
    std::fs::copy(&guest.kernel, assets.join("vmlinux.container")).unwrap();
    std::fs::copy(&guest.initrd, assets.join("kata-containers-initrd.img")).unwrap();
    // The release directory must not be writable by others (as installed by root).
    std::fs::set_permissions(kata, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn the_smoke_gate_without_a_guest_is_an_input_error() {
    let env = Env::new();
    // A configuration that names no guest kernel, and one for a VMM smoke cannot boot.
    let no_kernel = env.dir.path().join("no-kernel.toml");
    std::fs::write(
        &no_kernel,
        "[hypervisor.qemu]\npath = \"/usr/bin/qemu-system-x86_64\"\n",
    )
    .unwrap();
    let firecracker = env.dir.path().join("fc.toml");
    std::fs::write(
        &firecracker,
        "[hypervisor.firecracker]\npath = \"/usr/bin/firecracker\"\nkernel = \"/k\"\n",
    )
    .unwrap();
    for (config, expect) in [
        (&no_kernel, "no guest to boot"),
        (&firecracker, "not supported yet"),
    ] {
        let policy = env.policy(&format!("[smoke]\nconfig = \"{}\"\n", config.display()));
        // --dry-run: even if the check were missing, nothing would change.
        let out = env
            .cmd()
            .args(["update", "apply", "--yes", "--dry-run", "--policy"])
            .arg(&policy)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expect), "{stderr}");
        assert!(stderr.contains("--gate qemu-start"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn a_static_kata_release_is_switched_atomically_and_rolled_back() {
    let Some((_, guest)) = guest::qemu_and_guest() else {
        return;
    };
    let env = Env::new();
    let opt = env.dir.path().join("opt");
    let kata_dir = opt.join("kata");
    populate_release(&kata_dir, "3.20.0", &guest);
    let (tarball, sha) = kata_tarball(env.dir.path(), "3.21.0", &guest);
    let kata_args = |cmd: &mut assert_cmd::Command| {
        cmd.arg("--kata-dir").arg(&kata_dir);
    };

    // A wrong digest: input error, nothing unpacked.
    let mut c = env.cmd();
    c.args([
        "update",
        "apply",
        "--yes",
        "--gate",
        "qemu-start",
        "--kata-tarball",
    ])
    .arg(&tarball)
    .args(["--sha256", &"0".repeat(64)]);
    kata_args(&mut c);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing the tarball"));
    assert!(std::fs::symlink_metadata(&kata_dir).unwrap().is_dir());

    // A closed maintenance window: refused, nothing switched.
    let closed = env.policy(&format!(
        "[update]\nwindow = {{ days = [\"{}\"], start = \"00:00\", end = \"00:01\" }}\n",
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            [(jiff::Zoned::now().date().weekday().to_monday_zero_offset() as usize + 3) % 7]
    ));
    let mut c = env.cmd();
    c.args([
        "update",
        "apply",
        "--yes",
        "--gate",
        "qemu-start",
        "--format",
        "json",
        "--policy",
    ])
    .arg(&closed)
    .arg("--kata-tarball")
    .arg(&tarball)
    .args(["--sha256", &sha]);
    kata_args(&mut c);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let result = json(&out);
    assert_eq!(result["schema"], "hvguard.update-result/v1");
    assert_eq!(result["result"], "refused");
    assert!(result["stages"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("maintenance window"));
    assert!(std::fs::symlink_metadata(&kata_dir).unwrap().is_dir());

    // The test guest prints HVGUARD-SMOKE-OK, not Kata's agent line: the policy says so. One
    // boot per measurement keeps the test short.
    let smoke_table = "[smoke]\nmarker = \"HVGUARD-SMOKE-OK\"\nruns = 1\ntimeout_s = 120\n";

    // A smoke gate that cannot pass (max_boot_ms = 1): the release booted its own guest, was
    // too slow, and nothing was switched; the unpacked release is discarded.
    let strict = env.policy(&format!("[update]\nmax_boot_ms = 1\n{smoke_table}"));
    let mut c = env.cmd();
    c.args([
        "update", "apply", "--yes", "--now", "--format", "json", "--policy",
    ])
    .arg(&strict)
    .arg("--kata-tarball")
    .arg(&tarball)
    .args(["--sha256", &sha]);
    kata_args(&mut c);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let result = json(&out);
    assert_eq!(result["result"], "refused");
    let smoke = result["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "smoke")
        .unwrap();
    assert_eq!(smoke["ok"], false);
    let detail = smoke["detail"].as_str().unwrap();
    assert!(
        detail.contains("smoke gate: Kata 3.21.0 median") && detail.contains("max_boot_ms = 1"),
        "{detail}"
    );
    assert!(std::fs::symlink_metadata(&kata_dir).unwrap().is_dir());
    assert!(!opt.join("kata-releases/3.21.0").exists());

    // The real switch, tested by the smoke gate (the default): the release's own QEMU, modules
    // and firmware boot its own guest to the marker, and so does the installed release for the
    // regression check.
    let policy = env.policy(&format!(
        "[update]\nmax_boot_regression_percent = 400\n{smoke_table}"
    ));
    let mut c = env.cmd();
    c.args([
        "update", "apply", "--yes", "--now", "--format", "json", "--policy",
    ])
    .arg(&policy)
    .arg("--kata-tarball")
    .arg(&tarball)
    .args(["--sha256", &sha]);
    kata_args(&mut c);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let result = json(&out);
    assert_eq!(result["result"], "updated");
    assert_eq!(result["components"][0]["package"], "kata-static");
    assert_eq!(result["components"][0]["from"], "3.20.0");
    assert_eq!(result["components"][0]["to"], "3.21.0");
    let names: Vec<&str> = result["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["preflight", "stage", "smoke", "switch", "verify", "report"]
    );
    let smoke = result["stages"][2]["detail"].as_str().unwrap();
    eprintln!("smoke stage: {smoke}");
    let release = opt.join("kata-releases/3.21.0");
    for expect in [
        "smoke gate: Kata 3.21.0 median".to_owned(),
        format!("of {}/bin/qemu-system-x86_64", release.display()),
        format!(
            "the guest {}/share/kata-containers/vmlinux.container",
            release.display()
        ),
        "marker \"HVGUARD-SMOKE-OK\"".to_owned(),
        "Kata 3.20.0 median".to_owned(),
        "within 400%".to_owned(),
    ] {
        assert!(smoke.contains(&expect), "{expect:?} not in {smoke}");
    }
    let verify = result["stages"][4]["detail"].as_str().unwrap();
    assert!(
        verify.contains("smoke gate: active Kata 3.21.0 median"),
        "{verify}"
    );
    assert_eq!(
        std::fs::read_link(&kata_dir).unwrap(),
        PathBuf::from("kata-releases/3.21.0")
    );
    assert_eq!(
        std::fs::read_to_string(kata_dir.join("VERSION"))
            .unwrap()
            .trim(),
        "3.21.0"
    );
    assert!(opt
        .join("kata-releases/3.20.0/bin/qemu-system-x86_64")
        .exists());

    // Back, verified by the QEMU start probe (the explicit fallback): the migrated plain
    // directory is restored as it was.
    let mut c = env.cmd();
    c.args([
        "update",
        "rollback",
        "--kata",
        "--yes",
        "--gate",
        "qemu-start",
        "--format",
        "json",
    ]);
    kata_args(&mut c);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let result = json(&out);
    assert_eq!(result["result"], "rolled-back");
    let verify = result["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "verify-rollback")
        .unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(verify.contains("qemu-start gate"), "{verify}");
    assert!(std::fs::symlink_metadata(&kata_dir).unwrap().is_dir());
    assert_eq!(
        std::fs::read_to_string(kata_dir.join("VERSION"))
            .unwrap()
            .trim(),
        "3.20.0"
    );

    // Every transaction is in the journal, newest first.
    let out = env
        .cmd()
        .args(["update", "history", "--format", "json"])
        .output()
        .unwrap();
    let history = json(&out);
    let kinds: Vec<&str> = history["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["kata-rollback", "kata-apply", "kata-apply", "kata-apply"]
    );
    assert_eq!(history["transactions"][1]["result"], "updated");
    assert_eq!(history["transactions"][2]["result"], "refused");
    assert_eq!(history["transactions"][3]["result"], "refused");
    // No VMM the gate started outlived it.
    let left = guest::processes_mentioning(&opt.display().to_string());
    assert!(left.is_empty(), "VMM processes left running: {left:?}");
}
