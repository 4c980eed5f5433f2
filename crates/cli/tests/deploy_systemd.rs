//! deploy/systemd without installing anything: `systemd-analyze verify` and `security
//! --offline` accept the units (with ExecStart pointed at the freshly built binary), the
//! sandbox and schedule say what docs/monitoring.md promises, every folder the scan writes is
//! writable in the sandbox and created by the tmpfiles entry, and the scan unit's command line
//! runs with the real binary. (.ci/run repeats verify on the installed .deb, man pages
//! included.)

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;
mod tools;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const UNITS: [&str; 4] = [
    "hvguard-scan.service",
    "hvguard-scan.timer",
    "hvguard-db-update.service",
    "hvguard-db-update.timer",
];

fn unit_dir() -> PathBuf {
    workspace().join("deploy/systemd")
}

/// `Key=value` settings of one unit, repeated keys kept in order.
fn settings(unit: &str) -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(unit_dir().join(unit)).unwrap();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with(['#', ';', '[']) {
            continue;
        }
        let (key, value) = line.split_once('=').expect("Key=value");
        out.entry(key.to_string())
            .or_default()
            .push(value.to_string());
    }
    out
}

fn one<'a>(s: &'a BTreeMap<String, Vec<String>>, key: &str) -> &'a str {
    let values = s.get(key).unwrap_or_else(|| panic!("{key} missing"));
    assert_eq!(values.len(), 1, "{key} set more than once");
    &values[0]
}

fn exec_start(unit: &str) -> Vec<String> {
    one(&settings(unit), "ExecStart")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn after<'a>(args: &'a [String], flag: &str) -> &'a str {
    let i = args
        .iter()
        .position(|a| a == flag)
        .unwrap_or_else(|| panic!("{flag}"));
    &args[i + 1]
}

/// The units copied to a temp dir with /usr/bin/hvguard replaced by the built binary
/// (verify checks that ExecStart's program exists).
fn units_with_built_binary() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let bin = assert_cmd::cargo::cargo_bin("hvguard");
    for unit in UNITS {
        let text = std::fs::read_to_string(unit_dir().join(unit)).unwrap();
        std::fs::write(
            dir.path().join(unit),
            text.replace("/usr/bin/hvguard", &bin.display().to_string()),
        )
        .unwrap();
    }
    dir
}

#[test]
fn systemd_analyze_verifies_the_units() {
    let Some(analyze) = tools::required("systemd-analyze", "systemd") else {
        return;
    };
    let dir = units_with_built_binary();
    let out = Command::new(&analyze)
        .args(["verify", "--man=no"])
        .args(UNITS.map(|u| dir.path().join(u)))
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && said.trim().is_empty(), "{said}");
}

#[test]
fn both_services_rate_ok_in_systemd_analyze_security() {
    let Some(analyze) = tools::required("systemd-analyze", "systemd") else {
        return;
    };
    let dir = units_with_built_binary();
    for unit in ["hvguard-scan.service", "hvguard-db-update.service"] {
        // --threshold is the exposure level times ten: at most 2.0 ("OK").
        let out = Command::new(&analyze)
            .args(["security", "--offline=true", "--threshold=20"])
            .arg(dir.path().join(unit))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{unit}:\n{text}");
        let last = text.lines().last().unwrap_or_default();
        eprintln!("{last}");
        assert!(last.contains("OK"), "{last}");
    }
}

#[test]
fn the_scan_service_is_sandboxed_and_writes_only_where_allowed() {
    let s = settings("hvguard-scan.service");
    assert_eq!(one(&s, "Type"), "oneshot");
    assert_eq!(one(&s, "SuccessExitStatus"), "1");
    assert_eq!(one(&s, "ProtectSystem"), "strict");
    assert_eq!(one(&s, "NoNewPrivileges"), "yes");
    assert_eq!(one(&s, "PrivateNetwork"), "yes");
    let caps: BTreeSet<&str> = one(&s, "CapabilityBoundingSet")
        .split_whitespace()
        .collect();
    assert_eq!(
        caps,
        BTreeSet::from(["CAP_DAC_READ_SEARCH", "CAP_SYS_PTRACE"])
    );
    assert_eq!(one(&s, "StateDirectory"), "hvguard");
    assert_eq!(one(&s, "DeviceAllow"), "/dev/kvm rw");
    let writable: BTreeSet<String> = one(&s, "ReadWritePaths")
        .split_whitespace()
        .map(|p| p.trim_start_matches('-').to_string())
        .collect();

    let args = exec_start("hvguard-scan.service");
    assert_eq!(
        args[..2],
        ["/usr/bin/hvguard".to_string(), "scan".to_string()]
    );
    assert!(
        args.contains(&"--record".to_string()),
        "the scan records its history"
    );
    let textfile = after(&args, "--textfile-dir").to_string();
    let nfd = Path::new(after(&args, "--nfd-file"));
    let nfd_dir = nfd.parent().unwrap().display().to_string();
    assert_eq!(
        writable,
        BTreeSet::from([textfile.clone(), nfd_dir.clone()])
    );
    assert_eq!(nfd_dir, hvguard_report::NFD_FEATURES_DIR);
    assert!(
        after(&args, "--db").starts_with("/var/lib/hvguard/"),
        "the store is in StateDirectory"
    );

    // The tmpfiles entry creates exactly those folders, leaving existing ones alone.
    let tmpfiles = std::fs::read_to_string(unit_dir().join("hvguard-scan.tmpfile")).unwrap();
    let created: BTreeSet<String> = tmpfiles
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f[0], "d");
            assert_eq!(f[2..], ["-", "-", "-", "-"], "no mode or owner change: {l}");
            f[1].to_string()
        })
        .collect();
    assert_eq!(created, writable);
}

#[test]
fn the_update_service_has_no_capability_and_writes_only_its_state() {
    let s = settings("hvguard-db-update.service");
    assert_eq!(one(&s, "CapabilityBoundingSet"), "");
    assert_eq!(one(&s, "ProtectSystem"), "strict");
    assert_eq!(one(&s, "NoNewPrivileges"), "yes");
    assert_eq!(one(&s, "StateDirectory"), "hvguard");
    assert!(!s.contains_key("ReadWritePaths"));
    let args = exec_start("hvguard-db-update.service");
    assert_eq!(args.last().map(String::as_str), Some("update"));
    assert!(after(&args, "--db").starts_with("/var/lib/hvguard/"));
}

#[test]
fn timers_run_every_15_minutes_and_daily() {
    let scan = settings("hvguard-scan.timer");
    assert_eq!(one(&scan, "OnCalendar"), "*:0/15");
    assert_eq!(one(&scan, "RandomizedDelaySec"), "5min");
    assert_eq!(one(&scan, "Persistent"), "true");
    assert_eq!(one(&scan, "WantedBy"), "timers.target");
    let update = settings("hvguard-db-update.timer");
    assert_eq!(one(&update, "OnCalendar"), "daily");
    assert_eq!(one(&update, "Persistent"), "true");
    assert!(update.contains_key("RandomizedDelaySec"));
}

/// The scan unit's own command line against a fixture host, its output folders mapped to
/// temporary ones. `--record` comes with the history work: without it in this hvguard, the
/// test says so and runs the rest.
#[test]
fn the_scan_units_command_line_runs() {
    let mut args = exec_start("hvguard-scan.service");
    args.remove(0);
    let help = hvguard().args(["scan", "--help"]).output().unwrap();
    if !String::from_utf8_lossy(&help.stdout).contains("--record") {
        eprintln!("NOTE: scan --record is not in this hvguard yet (the history work adds it); running without it");
        args.retain(|a| a != "--record");
    }
    let scratch = tempfile::tempdir().unwrap();
    let root = materialise("kata-static");
    let textfile = scratch.path().join("textfile");
    let features = scratch.path().join("features.d");
    let state = scratch.path().join("state");
    for d in [&textfile, &features, &state] {
        std::fs::create_dir(d).unwrap();
    }
    let map = |a: &str| -> String {
        for (from, to) in [
            ("/var/lib/prometheus/node-exporter", &textfile),
            (hvguard_report::NFD_FEATURES_DIR, &features),
            ("/var/lib/hvguard", &state),
        ] {
            if let Ok(rest) = Path::new(a).strip_prefix(from) {
                return to.join(rest).display().to_string();
            }
        }
        a.to_string()
    };
    let args: Vec<String> = args.iter().map(|a| map(a)).collect();
    let out = hvguard()
        .env_remove("HVGUARD_DB")
        .args(&args)
        .arg("--root")
        .arg(root.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
    assert!(textfile.join("hvguard.prom").is_file());
    assert!(features.join("hvguard").is_file());
}
