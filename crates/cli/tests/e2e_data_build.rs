//! `hvguard db build` and `hvguard db import DIR` with files that are no feed, end to end.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::*;
use predicates::prelude::*;

#[test]
fn the_shipped_snapshot_is_up_to_date_and_a_changed_copy_is_not() {
    let inputs = workspace().join("crates/advisory/data/build");
    let shipped = workspace().join("crates/advisory/data/hypervisor-advisories.json");
    hvguard()
        .args(["db", "build", "--check", "--from"])
        .arg(&inputs)
        .arg("--out")
        .arg(&shipped)
        .assert()
        .code(0)
        .stdout("")
        .stderr(
            predicate::str::contains("is up to date").and(predicate::str::contains(
                "dropped CVE-2020-25707: NVD marks the CVE id Rejected",
            )),
        );
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("snapshot.json");
    let text = std::fs::read_to_string(&shipped).unwrap();
    std::fs::write(&copy, text.replacen("virtio-snd", "virtio-net", 1)).unwrap();
    hvguard()
        .args(["db", "build", "--check", "--from"])
        .arg(&inputs)
        .arg("--out")
        .arg(&copy)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("differs from the build at line"));
    // Without --check the file is rewritten, the old one kept beside it.
    hvguard()
        .args(["db", "build", "--from"])
        .arg(&inputs)
        .arg("--out")
        .arg(&copy)
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), text);
    assert!(dir.path().join("snapshot.json.bak").is_file());
}

#[test]
fn a_broken_evidence_file_is_an_input_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = workspace().join("crates/advisory/data/build");
    // A copy of the inputs whose evidence file has a fact without a source.
    let copy = dir.path().join("build");
    copy_tree(&inputs, &copy);
    let evidence = copy.join("evidence.toml");
    let mut text = std::fs::read_to_string(&evidence).unwrap();
    text.push_str("\n[[fact]]\nid = \"CVE-2024-7730\"\ncomponents = [\"virtio-snd\"]\n");
    std::fs::write(&evidence, text).unwrap();
    hvguard()
        .args(["db", "build", "--from"])
        .arg(&copy)
        .arg("--out")
        .arg(dir.path().join("out.json"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("evidence.toml").and(predicate::str::contains("source")));
    assert!(!dir.path().join("out.json").exists());
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn import_skips_and_names_a_json_schema_in_a_folder_but_refuses_it_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("advisories.db");
    let mixed = workspace().join("tests/fixtures/advisories/mixed");
    hvguard()
        .args(["db", "--db"])
        .arg(&db)
        .arg("import")
        .arg(&mixed)
        .assert()
        .success()
        .stderr(
            predicate::str::contains("skipped")
                .and(predicate::str::contains("cisa-kev-schema.json"))
                .and(predicate::str::contains("1 advisories")),
        );
    hvguard()
        .args(["db", "--db"])
        .arg(&db)
        .arg("import")
        .arg(mixed.join("cisa-kev-schema.json"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cisa-kev-schema.json"));
}
