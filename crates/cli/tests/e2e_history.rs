//! History and drift end to end: `scan --record`, `history`, `diff`, `baseline`, `scan
//! --baseline`, the static-binary half of `hypervisor.binary-modified`, and the bad inputs
//! (a damaged store, records from an older hvguard, no store at all).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{hvguard, materialise, workspace};
use serde_json::Value;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

fn run(args: &[&str], db: &Path) -> (i32, String, String) {
    let out = hvguard()
        .args(args)
        .env("HVGUARD_DB", db)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn scan_record(root: &Path, db: &Path, extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec![
        "scan",
        "--root",
        root.to_str().unwrap(),
        "--format",
        "json",
        "--record",
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = run(&args, db);
    (code, json(&out), err)
}

const QEMU_CONFIG: &str = "opt/kata/share/defaults/kata-containers/configuration-qemu.toml";

/// Turns on debug and an extra monitor socket in the QEMU section (a high finding).
fn loosen_qemu_config(root: &Path) -> u32 {
    let path = root.join(QEMU_CONFIG);
    let text = std::fs::read_to_string(&path).unwrap();
    let at = text
        .find("#enable_debug = true")
        .expect("the real config has it");
    let line = text[..at].lines().count() as u32 + 1;
    let text = text.replacen(
        "#enable_debug = true",
        "enable_debug = true\nextra_monitor_socket = \"hmp\"",
        1,
    );
    std::fs::write(&path, text).unwrap();
    line
}

#[test]
fn record_history_and_diff_the_last_two_scans() {
    let root = materialise("kata-deploy");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hvguard.db");
    let (first_code, first, err) = scan_record(root.path(), &db, &[]);
    assert!(err.contains("recorded as"), "{err}");
    // The first record has nothing to compare with.
    assert!(first.get("drift").is_none(), "{first}");
    let line = loosen_qemu_config(root.path());
    let (_, second, err) = scan_record(root.path(), &db, &[]);
    assert!(err.contains("record 2"), "{err}");
    // The scan reports its drift from the previous record.
    let drift = &second["drift"];
    assert_eq!(drift["schema"], "hvguard.diff/v1");
    assert_eq!(drift["reference"], "previous");
    assert!(
        drift["summary"]["changes"].as_u64().unwrap() >= 2,
        "{drift}"
    );

    let (code, out, _) = run(&["history", "--format", "json"], &db);
    assert_eq!(code, 0);
    let h = json(&out);
    assert_eq!(h["schema"], "hvguard.history/v1");
    let records = h["records"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["id"], 1);
    assert_eq!(records[1]["drift_changes"], drift["summary"]["changes"]);
    let (code, text, _) = run(&["history"], &db);
    assert_eq!(code, 0);
    assert!(text.contains("2 record(s)"), "{text}");

    // Default: the last two records; the new high finding makes it exit 1 at --fail-on high.
    let (code, out, err) = run(&["diff", "--format", "json"], &db);
    assert_eq!(code, 1, "{err}");
    let d = json(&out);
    assert_eq!(d["schema"], "hvguard.diff/v1");
    assert_eq!(d["old"]["record"], 1);
    assert_eq!(d["new"]["record"], 2);
    let added: Vec<&str> = d["findings"]["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(added.contains(&"kata.extra-monitor-socket"), "{added:?}");
    let facts = d["facts"]["changed"].as_array().unwrap();
    let debug = facts
        .iter()
        .find(|f| {
            f["what"] == "kata-config"
                && f["subject"]
                    .as_str()
                    .unwrap()
                    .ends_with("configuration-qemu.toml hypervisor.qemu.enable_debug")
        })
        .unwrap_or_else(|| panic!("{facts:#?}"));
    assert_eq!(debug["old"], Value::Null);
    assert_eq!(debug["new"], "true");
    assert_eq!(debug["location"]["line"], line);
    assert!(debug["location"]["path"]
        .as_str()
        .unwrap()
        .ends_with("configuration-qemu.toml"));
    // Only critical drift fails at --fail-on critical.
    let (code, _, _) = run(&["diff", "--fail-on", "critical"], &db);
    assert_eq!(code, 0);
    // Text, and the same comparison named explicitly.
    let (code, text, _) = run(&["diff", "1", "2"], &db);
    assert_eq!(code, 1);
    assert!(text.contains("Findings added"), "{text}");
    assert!(
        text.contains(&format!("configuration-qemu.toml:{line}")),
        "{text}"
    );
    assert!(text.contains("(absent) -> true"), "{text}");
    let _ = first_code;
}

#[test]
fn baseline_set_show_and_scan_against_it() {
    let root = materialise("kata-deploy");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hvguard.db");
    let (code, _, err) = run(&["baseline", "set"], &db);
    assert_eq!(code, 2, "no store yet: {err}");
    assert!(err.contains("record a scan first"), "{err}");
    scan_record(root.path(), &db, &[]);
    let (code, out, _) = run(&["baseline", "set", "--note", "after review"], &db);
    assert_eq!(code, 0);
    assert!(out.contains("record 1"), "{out}");
    let (_, out, _) = run(&["baseline", "show", "--format", "json"], &db);
    let b = json(&out);
    assert_eq!(b["schema"], "hvguard.baseline/v1");
    assert_eq!(b["baseline"]["record"]["id"], 1);
    assert_eq!(b["baseline"]["note"], "after review");
    // Two more records, the host drifting in between.
    scan_record(root.path(), &db, &[]);
    loosen_qemu_config(root.path());
    let (code, out, err) = run(
        &[
            "scan",
            "--root",
            root.path().to_str().unwrap(),
            "--baseline",
        ],
        &db,
    );
    assert!(
        out.contains("Drift since baseline (record 1)"),
        "{out}\n{err}"
    );
    assert!(out.contains("kata.extra-monitor-socket"), "{out}");
    // The exit code is the scan's, as without --baseline.
    let (plain, _, _) = run(&["scan", "--root", root.path().to_str().unwrap()], &db);
    assert_eq!(code, plain);
    let (_, out, _) = run(&["diff", "baseline", "latest", "--format", "json"], &db);
    assert_eq!(json(&out)["reference"], "baseline");
}

#[test]
fn a_static_binary_changed_without_an_update_is_critical() {
    let root = materialise("kata-static");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hvguard.db");
    let (_, report, _) = scan_record(root.path(), &db, &[]);
    // Without a baseline, the static binaries cannot be judged: said, not passed.
    assert!(report["unknown"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["rule"] == "hypervisor.binary-modified"
            && u["reason"].as_str().unwrap().contains("baseline")));
    run(&["baseline", "set"], &db);
    let (_, clean, _) = scan_record(root.path(), &db, &[]);
    assert_eq!(common::count_rule(&clean, "hypervisor.binary-modified"), 0);
    // Someone swaps bytes in the static Firecracker; /opt/kata/VERSION is unchanged.
    let fc = root.path().join("opt/kata/bin/firecracker");
    let mut f = std::fs::OpenOptions::new().write(true).open(&fc).unwrap();
    f.seek(SeekFrom::Start(8)).unwrap();
    f.write_all(b"PWNED").unwrap();
    drop(f);
    let (code, report, _) = scan_record(root.path(), &db, &[]);
    assert_eq!(code, 1);
    let hits: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "hypervisor.binary-modified")
        .collect();
    assert_eq!(hits.len(), 1, "{hits:#?}");
    assert_eq!(hits[0]["severity"], "critical");
    assert_eq!(hits[0]["location"]["path"], "/opt/kata/bin/firecracker");
    assert!(hits[0]["evidence"]
        .as_str()
        .unwrap()
        .contains("in the baseline"));
    // The drift since the previous record shows the hash change as high.
    let facts = report["drift"]["facts"]["changed"].as_array().unwrap();
    assert!(facts
        .iter()
        .any(|f| f["what"] == "hypervisor-sha256" && f["severity"] == "high"));
    // An update of the Kata release explains new bytes: no finding, only drift.
    std::fs::write(root.path().join("opt/kata/VERSION"), "3.21.0\n").unwrap();
    let (_, report, _) = scan_record(root.path(), &db, &[]);
    assert_eq!(
        common::count_rule(&report, "hypervisor.binary-modified"),
        0,
        "{report}"
    );
}

/// Overwrites the history table's root page with junk, as a failing disk would.
fn damage_history(db: &Path) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let page: i64 = conn
        .query_row(
            "SELECT rootpage FROM sqlite_master WHERE name = 'history_records'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let size: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    drop(conn);
    let mut f = std::fs::OpenOptions::new().write(true).open(db).unwrap();
    f.seek(SeekFrom::Start(((page - 1) * size) as u64)).unwrap();
    f.write_all(&vec![0x5a; size as usize]).unwrap();
}

#[test]
fn a_damaged_history_leaves_the_scan_and_its_exit_code_alone() {
    let root = materialise("kata-deploy");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hvguard.db");
    let r = root.path().to_str().unwrap();
    scan_record(root.path(), &db, &[]);
    scan_record(root.path(), &db, &[]);
    let (plain_code, plain_out, _) = run(&["scan", "--root", r, "--format", "json"], &db);
    damage_history(&db);
    let (code, out, err) = run(&["scan", "--root", r, "--format", "json", "--record"], &db);
    assert_eq!(code, plain_code, "{err}");
    assert!(err.contains("history unavailable"), "{err}");
    assert!(err.contains("not recorded"), "{err}");
    assert!(err.contains(db.to_str().unwrap()), "{err}");
    let report = json(&out);
    assert_eq!(
        report["findings"],
        json(&plain_out)["findings"],
        "same findings as a plain scan"
    );
    // The history commands themselves say what is wrong and exit 2.
    let (code, _, err) = run(&["history"], &db);
    assert_eq!(code, 2);
    assert!(err.contains("malformed"), "{err}");
}

#[test]
fn files_from_an_older_hvguard_still_diff() {
    let fixtures = workspace().join("crates/drift/tests/fixtures");
    let old_report = fixtures.join("v0-kata-static.report.json");
    let old_snapshot = fixtures.join("v0-kata-static.snapshot.json");
    let root = materialise("kata-static");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("absent.db");
    let (_, now, _) = run(
        &[
            "scan",
            "--root",
            root.path().to_str().unwrap(),
            "--format",
            "json",
        ],
        &db,
    );
    let now_path = dir.path().join("now.json");
    std::fs::write(&now_path, now).unwrap();
    // An old report against a new one: no store needed.
    let (code, out, err) = run(
        &[
            "diff",
            old_report.to_str().unwrap(),
            now_path.to_str().unwrap(),
            "--format",
            "json",
            "--fail-on",
            "critical",
        ],
        &db,
    );
    assert!(code == 0 || code == 1, "{err}");
    let d = json(&out);
    assert_eq!(d["old"]["has_findings"], true);
    assert_eq!(d["reference"], "given");
    // An old snapshot is evaluated, then compared.
    let (code, out, err) = run(
        &[
            "diff",
            old_snapshot.to_str().unwrap(),
            now_path.to_str().unwrap(),
        ],
        &db,
    );
    assert!(code == 0 || code == 1, "{err}");
    assert!(out.contains("hvguard diff"), "{out}");
    // No store and a record asked for: a clear input error.
    let (code, _, err) = run(&["diff"], &db);
    assert_eq!(code, 2);
    assert!(err.contains("no history store"), "{err}");
    // Not an hvguard file.
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, r#"{"schema": "other/v1"}"#).unwrap();
    let (code, _, err) = run(
        &["diff", junk.to_str().unwrap(), now_path.to_str().unwrap()],
        &db,
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("junk.json") && err.contains("other/v1"),
        "{err}"
    );
}

#[test]
fn retention_comes_from_the_policy_file() {
    let root = materialise("kata-deploy");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hvguard.db");
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "[history]\nkeep_days = 0\n").unwrap();
    let out = hvguard()
        .args(["scan", "--root", root.path().to_str().unwrap(), "--record"])
        .env("HVGUARD_DB", &db)
        .env("HVGUARD_POLICY", &policy)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("policy.toml:2:") && err.contains("keep_days"),
        "{err}"
    );
}
