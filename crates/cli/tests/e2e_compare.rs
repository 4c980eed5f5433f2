//! `hvguard hypervisors compare` end to end: the JSON contract, the Markdown document and its
//! re-run with `--previous`, the advisory source, and the input errors (exit 2, one line).

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::{hvguard, materialise, workspace};
use std::path::Path;

fn compare(root: &Path) -> assert_cmd::Command {
    let mut cmd = hvguard();
    cmd.args(["hypervisors", "compare", "--root"]).arg(root);
    cmd
}

fn stdout_of(cmd: &mut assert_cmd::Command) -> String {
    let out = cmd.output().expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn json_names_its_schema_and_every_hypervisor_with_sources() {
    let root = materialise("kata-static");
    let text = stdout_of(compare(root.path()).args(["--format", "json", "--offline"]));
    let value: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(value["schema"], "hvguard.compare/v1");
    assert_eq!(value["advisories_from"]["source"], "shipped");
    assert_eq!(value["advisories_from"]["count"], 150);
    let kinds: Vec<&str> = value["hypervisors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "qemu",
            "cloud-hypervisor",
            "firecracker",
            "dragonball",
            "stratovirt",
            "remote"
        ]
    );
    for h in value["hypervisors"].as_array().unwrap() {
        for key in [
            "language",
            "kata",
            "features",
            "isolation",
            "advisories",
            "installed",
            "sources",
        ] {
            assert!(!h[key].is_null(), "{} lacks {key}", h["kind"]);
        }
        for key in ["total", "by_year", "vm_escape", "kev", "median_days_to_fix"] {
            assert!(
                h["advisories"].get(key).is_some(),
                "{} lacks advisories.{key}",
                h["kind"]
            );
        }
        for source in h["sources"].as_array().unwrap() {
            assert!(source["url"].as_str().unwrap().starts_with("https://"));
        }
    }
    let qemu = &value["hypervisors"][0];
    assert_eq!(qemu["language"]["value"], "C");
    assert_eq!(qemu["advisories"]["total"], 126);
    assert_eq!(
        qemu["installed"][0]["path"],
        "/opt/kata/bin/qemu-system-x86_64"
    );
    assert_eq!(value["host"]["kata_release"], "3.20.0");
}

#[test]
fn markdown_rerun_with_previous_shows_what_changed() {
    let root = materialise("kata-static");
    let doc = stdout_of(compare(root.path()).args(["--format", "markdown"]));
    assert!(doc.starts_with("<!-- hvguard-compare date="));
    assert!(doc.contains("\n# Hypervisor selection rationale: "));
    let dir = tempfile::tempdir().unwrap();
    let previous = dir.path().join("rationale.md");
    std::fs::write(&previous, &doc).unwrap();
    let again = stdout_of(
        compare(root.path())
            .args(["--format", "markdown", "--previous"])
            .arg(&previous),
    );
    assert!(again.contains("No new advisories (advisories in the data now that"));

    // An older document that did not count CVE-2019-18960 yet.
    let older = doc.replace(" CVE-2019-18960", "");
    assert_ne!(older, doc);
    std::fs::write(&previous, older).unwrap();
    let again = stdout_of(
        compare(root.path())
            .args(["--format", "markdown", "--previous"])
            .arg(&previous),
    );
    let changes = again
        .split("## What changed since")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a What changed section");
    assert!(
        changes.contains(
            "| Firecracker | CVE-2019-18960 | 2019-12-11 | critical | vm-escape | yes | no |"
        ),
        "{changes}"
    );
}

#[test]
fn since_a_date_lists_newer_advisories_in_json() {
    let root = materialise("kata-static");
    let text = stdout_of(compare(root.path()).args([
        "--format",
        "json",
        "--offline",
        "--since",
        "2026-06-01",
    ]));
    let value: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(value["since"]["date"], "2026-06-01");
    assert_eq!(value["since"]["by_advisory_list"], false);
    let clh = &value["hypervisors"][1]["advisories"]["new_since"];
    assert_eq!(clh[0]["id"], "CVE-2026-45782");
}

#[test]
fn the_store_is_used_when_it_has_records() {
    let root = materialise("kata-static");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("advisories.db");
    hvguard()
        .args(["db", "--db"])
        .arg(&db)
        .arg("import")
        .arg(workspace().join("tests/fixtures/advisories/nvd"))
        .assert()
        .success();
    let text = stdout_of(
        compare(root.path())
            .args(["--format", "json", "--db"])
            .arg(&db),
    );
    let value: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(value["advisories_from"]["source"], "store");
    assert_eq!(value["advisories_from"]["store"], db.display().to_string());
    // --offline ignores the store.
    let text = stdout_of(compare(root.path()).args(["--format", "json", "--offline"]));
    let value: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(value["advisories_from"]["source"], "shipped");
}

#[test]
fn a_snapshot_file_gives_the_same_host_view() {
    let root = materialise("kata-static");
    let collected = hvguard()
        .arg("collect")
        .arg("--root")
        .arg(root.path())
        .output()
        .unwrap();
    assert!(collected.status.success());
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("snapshot.json");
    std::fs::write(&snapshot, &collected.stdout).unwrap();
    let mut cmd = hvguard();
    cmd.args([
        "hypervisors",
        "compare",
        "--format",
        "json",
        "--offline",
        "--snapshot",
    ])
    .arg(&snapshot);
    let from_file: serde_json::Value = serde_json::from_str(&stdout_of(&mut cmd)).unwrap();
    let live: serde_json::Value = serde_json::from_str(&stdout_of(compare(root.path()).args([
        "--format",
        "json",
        "--offline",
    ])))
    .unwrap();
    assert_eq!(from_file["host"], live["host"]);
    assert_eq!(from_file["hypervisors"], live["hypervisors"]);
}

#[test]
fn bad_input_is_exit_2_with_one_line_naming_it() {
    let root = materialise("kata-static");
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("notes.md");
    std::fs::write(&junk, "# my notes\n").unwrap();
    let missing = dir.path().join("missing.md");
    let binary = dir.path().join("binary.md");
    std::fs::write(&binary, b"<!-- hvguard-compare date=2026-11-29 -->\n\xff\n").unwrap();
    for (file, expected) in [
        (&junk, "no `<!-- hvguard-compare date=YYYY-MM-DD -->` line"),
        (&missing, "No such file or directory"),
        (&binary, "not UTF-8 text"),
    ] {
        let out = compare(root.path())
            .arg("--previous")
            .arg(file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(&file.display().to_string()), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
    }
    for args in [
        &["--since", "yesterday"][..],
        &["--previous", "a.md", "--since", "2026-01-01"][..],
        &["--format", "html"][..],
    ] {
        compare(root.path()).args(args).assert().code(2);
    }
}

#[test]
fn help_text_is_stable() {
    let out = hvguard()
        .args(["hypervisors", "compare", "--help"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    // The test environment's HVGUARD_POLICY path shows in the help: redact the checkout.
    let text = common::normalise(&String::from_utf8_lossy(&out), &workspace());
    insta::assert_snapshot!("help-hypervisors-compare", text);
}

#[test]
fn a_fifo_given_as_previous_is_refused_not_waited_on() {
    let root = materialise("kata-static");
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("rationale.md");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    let out = compare(root.path())
        .args(["--offline", "--previous"])
        .arg(&fifo)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&fifo.display().to_string()), "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");
}

#[test]
fn text_from_the_host_is_printed_terminal_safe_in_every_format() {
    let root = materialise("kata-static");
    let collected = hvguard()
        .arg("collect")
        .arg("--root")
        .arg(root.path())
        .output()
        .unwrap();
    assert!(collected.status.success());
    let mut snapshot: serde_json::Value = serde_json::from_slice(&collected.stdout).unwrap();
    // A binary whose name clears the screen and retitles the terminal, and a version string
    // with a C1 CSI: what a hostile root or snapshot can carry.
    let hypervisors = snapshot["hypervisors"].as_array_mut().unwrap();
    let qemu = hypervisors
        .iter_mut()
        .find(|h| h["kind"] == "qemu")
        .expect("a QEMU binary in the fixture");
    qemu["path"] = "/opt/kata/bin/qemu\u{1b}[2J\u{1b}]0;owned\u{7}".into();
    qemu["version"] = "10.0.3\u{9b}31m".into();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snapshot.json");
    std::fs::write(&file, serde_json::to_vec(&snapshot).unwrap()).unwrap();
    for format in ["text", "markdown", "json"] {
        let mut cmd = hvguard();
        cmd.args(["hypervisors", "compare", "--offline", "--format", format])
            .arg("--snapshot")
            .arg(&file);
        let out = stdout_of(&mut cmd);
        assert!(
            !out.contains(['\u{1b}', '\u{7}', '\u{9b}']),
            "{format}: a terminal control reached stdout"
        );
        assert!(
            out.contains("qemu\\u{1b}[2J") || out.contains("qemu\\u001b[2J"),
            "{format}"
        );
    }
}
