//! Error paths through the real binary: exit 2, one line on stderr naming the path, and each
//! message said once (no cause repeated by the error enums and again by the chain printer).

// Test helpers: a failed setup step should stop with its cause.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::*;
use std::path::Path;

/// Runs hvguard and returns its stderr after asserting exit 2 and a single error line.
fn fails_once(args: &[&str]) -> String {
    let out = hvguard().args(args).output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("hvguard: error: "))
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "{args:?}: one error line expected: {stderr}"
    );
    let line = errors[0].trim_start_matches("hvguard: error: ").to_owned();
    assert_said_once(&line);
    line
}

/// No part of the message (between `: ` separators) that reads as words appears twice, and
/// the OS's own text (`(os error N)`) at most once.
fn assert_said_once(line: &str) {
    assert!(
        line.matches("(os error").count() <= 1,
        "repeated cause: {line}"
    );
    let parts: Vec<&str> = line.split(": ").collect();
    for (i, part) in parts.iter().enumerate() {
        if part.contains(' ') {
            assert!(
                !parts[i + 1..].contains(part),
                "`{part}` is said twice: {line}"
            );
        }
    }
}

#[test]
fn missing_inputs_name_their_path_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing");
    let m = missing.to_str().expect("utf-8");
    let db = dir.path().join("advisories.db");
    let db = db.to_str().expect("utf-8");
    let cases: Vec<Vec<&str>> = vec![
        vec!["scan", "--root", m],
        vec!["scan", "--snapshot", m],
        vec!["audit", "--config", m],
        vec!["harden", "--config", m],
        vec!["db", "--db", db, "import", m],
        vec!["scan", "--root", "/", "--db", db, "--policy", m],
    ];
    for args in cases {
        let line = fails_once(&args);
        assert!(line.contains(m), "{args:?}: the path is named: {line}");
    }
}

#[test]
fn wrong_kinds_of_file_are_one_clear_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().expect("utf-8");
    // A directory where a file is expected.
    let line = fails_once(&["audit", "--config", d]);
    assert!(line.contains(d), "{line}");
    // Junk where a snapshot or a store is expected.
    let junk = dir.path().join("junk");
    std::fs::write(&junk, "not json, not sqlite").expect("write");
    let j = junk.to_str().expect("utf-8");
    let line = fails_once(&["scan", "--snapshot", j]);
    assert!(line.contains("not a hvguard snapshot"), "{line}");
    let line = fails_once(&["db", "--db", j, "status"]);
    assert!(line.contains("not an hvguard advisory store"), "{line}");
}

#[test]
fn a_store_sqlite_cannot_open_is_said_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = materialise("kata-static");
    // A store path under a regular file: SQLite cannot create it.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "").expect("write");
    let db = blocker.join("advisories.db");
    let line = fails_once(&[
        "advisories",
        "--root",
        root.path().to_str().expect("utf-8"),
        "--db",
        db.to_str().expect("utf-8"),
        "--new",
    ]);
    assert!(line.contains(&*blocker.to_string_lossy()), "{line}");
    assert!(Path::new(&blocker).is_file());
    // A folder where the store file should be: SQLite's own error, said once.
    let line = fails_once(&[
        "advisories",
        "--root",
        root.path().to_str().expect("utf-8"),
        "--db",
        dir.path().to_str().expect("utf-8"),
        "--new",
    ]);
    assert!(line.contains(&*dir.path().to_string_lossy()), "{line}");
}
