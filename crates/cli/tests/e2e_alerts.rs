//! `advisories --new` and `--notify` state, end to end: alerts are never lost (a 500 or a
//! timeout leaves them owed and the next run sends them), `--new` is per host and root, and
//! a store written by an older hvguard is upgraded in place. The webhook is a real local
//! HTTP server on 127.0.0.1 that each test stops before it ends.

// Test helpers: a failed setup step should stop with its cause.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::http::{Reply, TestServer};
use common::*;

/// `advisories` on `root` with the store `db`, JSON out, no proxy, an empty policy.
fn advisories(root: &Path, db: &Path) -> assert_cmd::Command {
    let mut cmd = hvguard();
    for var in ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"] {
        cmd.env_remove(var);
    }
    cmd.arg("advisories")
        .arg("--root")
        .arg(root)
        .arg("--db")
        .arg(db)
        .args(["--format", "json"]);
    cmd
}

struct Run {
    json: serde_json::Value,
    code: i32,
    stderr: String,
}

fn run(cmd: &mut assert_cmd::Command) -> Run {
    let out = cmd.output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}); stderr: {stderr}"));
    Run {
        json,
        code: out.status.code().unwrap_or(-1),
        stderr,
    }
}

fn findings(run: &Run) -> usize {
    run.json["findings"].as_array().map_or(0, Vec::len)
}

/// The kata-static fixture (its static QEMU matches shipped advisories) with a machine-id.
fn host(machine_id: Option<&str>) -> tempfile::TempDir {
    let root = materialise("kata-static");
    if let Some(id) = machine_id {
        std::fs::write(root.path().join("etc/machine-id"), format!("{id}\n")).expect("id");
    }
    root
}

#[test]
fn alerts_that_could_not_be_sent_are_sent_by_the_next_run() {
    let root = host(Some("0123456789abcdef0123456789abcdef"));
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("advisories.db");
    let all = findings(&run(&mut advisories(root.path(), &db)));
    assert!(
        all > 0,
        "the fixture's static QEMU matches shipped advisories"
    );

    // The webhook answers 500, then stops answering at all, then accepts.
    let phase = Arc::new(AtomicUsize::new(0));
    let server = {
        let phase = Arc::clone(&phase);
        TestServer::start(move |_| match phase.load(Ordering::SeqCst) {
            0 => Reply::Status(500, b"internal error".to_vec()),
            1 => Reply::Stall,
            _ => Reply::Status(204, Vec::new()),
        })
    };
    let hook = server.url("/hooks/T000/B000/secret-token");
    let notify = |cmd: &mut assert_cmd::Command| {
        cmd.arg("--notify")
            .arg(&hook)
            .args(["--notify-timeout", "2"]);
        run(cmd)
    };

    let plain = run(&mut advisories(root.path(), &db));
    let failed = notify(&mut advisories(root.path(), &db));
    assert_eq!(
        failed.code, plain.code,
        "a failed post never changes the exit code"
    );
    assert!(
        failed.stderr.contains("notification failed")
            && failed
                .stderr
                .contains(&format!("{all} advisory finding(s) stay unsent")),
        "{}",
        failed.stderr
    );
    assert!(
        !failed.stderr.contains("secret-token"),
        "the webhook URL is redacted"
    );
    let after_500 = server.requests().len();
    assert!(after_500 >= 2, "5xx is retried within the budget");

    phase.store(1, Ordering::SeqCst);
    let timed_out = notify(&mut advisories(root.path(), &db));
    assert!(
        timed_out.stderr.contains(&format!(
            "{all} advisory finding(s) an earlier run could not deliver"
        )),
        "{}",
        timed_out.stderr
    );
    assert!(
        timed_out.stderr.contains("notification failed"),
        "{}",
        timed_out.stderr
    );

    phase.store(2, Ordering::SeqCst);
    let before = server.requests().len();
    let delivered = notify(&mut advisories(root.path(), &db));
    assert!(
        delivered
            .stderr
            .contains(&format!("of {all} advisory finding(s)")),
        "{}",
        delivered.stderr
    );
    let requests = server.requests();
    assert_eq!(requests.len(), before + 1);
    let alert: serde_json::Value =
        serde_json::from_slice(&requests[before].body).expect("alert JSON");
    assert_eq!(alert["schema"], "hvguard.advisory-alert/v1");
    assert_eq!(alert["new"].as_array().map(Vec::len), Some(all));
    assert_eq!(requests[before].method, "POST");

    // Delivered once: the next run has nothing to send and posts nothing.
    let quiet = notify(&mut advisories(root.path(), &db));
    assert!(
        quiet.stderr.contains("nothing new to notify"),
        "{}",
        quiet.stderr
    );
    assert_eq!(server.requests().len(), before + 1);
    drop(server);
}

#[test]
fn a_redirecting_webhook_is_not_followed() {
    let root = host(None);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("advisories.db");
    let elsewhere = TestServer::start(|_| Reply::Status(200, Vec::new()));
    let location = elsewhere.url("/collect");
    let server = TestServer::start(move |_| {
        Reply::Raw(
            format!(
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\n\
                 Content-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .into_bytes(),
        )
    });
    let out = run(advisories(root.path(), &db)
        .arg("--notify")
        .arg(server.url("/hook"))
        .args(["--notify-timeout", "2"]));
    assert!(out.stderr.contains("HTTP 307"), "{}", out.stderr);
    assert!(out.stderr.contains("stay unsent"), "{}", out.stderr);
    assert!(elsewhere.requests().is_empty(), "the redirect was followed");
    drop(server);
    drop(elsewhere);
}

#[test]
fn new_is_per_host_and_per_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("advisories.db");
    let node1 = host(Some("0123456789abcdef0123456789abcdef"));
    let node2 = host(Some("fedcba9876543210fedcba9876543210"));
    let all = findings(&run(&mut advisories(node1.path(), &db)));
    assert!(all > 0);

    let first = run(advisories(node1.path(), &db).arg("--new"));
    assert_eq!(findings(&first), all);
    assert_eq!(
        findings(&run(advisories(node1.path(), &db).arg("--new"))),
        0
    );
    // A second host scanned into the same store sees its own new advisories.
    assert_eq!(
        findings(&run(advisories(node2.path(), &db).arg("--new"))),
        all
    );
    assert_eq!(
        findings(&run(advisories(node2.path(), &db).arg("--new"))),
        0
    );
    // The same machine-id read through another root (a copy of the image) is another scope.
    let copy = tempfile::tempdir().expect("tempdir");
    copy_tree(node1.path(), copy.path());
    assert_eq!(
        findings(&run(advisories(copy.path(), &db).arg("--new"))),
        all
    );
    // The JSON names the scope it used.
    assert_eq!(
        first.json["state_scope"]["host"],
        "machine-id:0123456789abcdef0123456789abcdef"
    );
}

fn v1_store(dir: &Path) -> PathBuf {
    let db = dir.join("advisories.db");
    std::fs::copy(
        workspace().join("tests/fixtures/stores/v1-kata-static-seen.db"),
        &db,
    )
    .expect("copy");
    db
}

fn schema_version(db: &Path) -> i64 {
    let out = hvguard()
        .args(["db", "--db"])
        .arg(db)
        .args(["status", "--format", "json"])
        .output()
        .expect("status");
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    value["store"]["schema_version"].as_i64().expect("version")
}

#[test]
fn a_store_from_an_older_hvguard_is_upgraded_and_keeps_what_it_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = v1_store(dir.path());
    assert_eq!(schema_version(&db), 1);
    // The host that wrote the old rows (kata-static has no machine-id: its host name).
    let node = host(None);
    let again = run(advisories(node.path(), &db).arg("--new"));
    assert_eq!(findings(&again), 0, "already reported before the upgrade");
    // Another host sharing the upgraded store starts fresh.
    let other = host(Some("fedcba9876543210fedcba9876543210"));
    assert!(findings(&run(advisories(other.path(), &db).arg("--new"))) > 0);
    assert_eq!(schema_version(&db), hvguard_advisory::store::SCHEMA_VERSION);
    assert_eq!(again.json["state_scope"]["host"], "hostname:kata-worker-2");
}
