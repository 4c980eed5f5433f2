//! `hvguard db ...` and `hvguard advisories` end to end: the binary against temp stores,
//! the real advisory fixtures, fixture host roots and a local HTTP server (127.0.0.1 only).

// Test helpers outside #[test] fns: a failed setup step should panic with its cause.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::*;
use predicates::prelude::*;

fn advisory_fixture(rel: &str) -> PathBuf {
    workspace().join("tests/fixtures/advisories").join(rel)
}

/// A one-thread HTTP/1.1 server answering every request with `status` and `body`, and
/// recording each request's body.
fn serve(status: u16, body: Vec<u8>) -> (String, Arc<Mutex<Vec<Vec<u8>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            if let Some(received) = read_body(&stream) {
                log.lock().expect("lock").push(received);
            }
            let mut stream = stream;
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    (base, seen)
}

fn read_body(stream: &TcpStream) -> Option<Vec<u8>> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(body)
}

fn dead_url() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    format!("http://127.0.0.1:{port}/hook")
}

/// The local test server must be reached directly, whatever proxy the machine has.
fn no_proxy(cmd: &mut assert_cmd::Command) {
    for var in ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"] {
        cmd.env_remove(var);
    }
}

fn db_cmd(db: &Path) -> assert_cmd::Command {
    let mut cmd = hvguard();
    cmd.arg("db").arg("--db").arg(db).env_remove("NVD_API_KEY");
    no_proxy(&mut cmd);
    cmd
}

fn import(db: &Path, paths: &[PathBuf]) {
    db_cmd(db)
        .arg("import")
        .args(paths)
        .assert()
        .success()
        .stdout("");
}

fn status_json(db: &Path) -> serde_json::Value {
    let out = db_cmd(db)
        .args(["status", "--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).expect("status JSON")
}

#[test]
fn status_without_a_store_says_the_shipped_snapshot_is_used() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("none.db");
    db_cmd(&db).arg("status").assert().success().stdout(
        predicate::str::contains("No advisory store")
            .and(predicate::str::contains("none.db"))
            .and(predicate::str::contains("shipped snapshot")),
    );
    assert!(!db.exists(), "status never creates a store");
}

#[test]
fn import_real_feeds_then_status_counts_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("advisories.db");
    import(
        &db,
        &[advisory_fixture("cvelistV5"), advisory_fixture("kev")],
    );
    let status = status_json(&db);
    assert_eq!(status["store"]["advisories"], 20);
    assert_eq!(status["store"]["kev"], 1404);
    assert_eq!(status["store"]["sources"].as_array().map(Vec::len), Some(2));
    db_cmd(&db)
        .arg("status")
        .assert()
        .success()
        .stdout(predicate::str::contains("Advisories: 20").and(predicate::str::contains("old")));
}

#[test]
fn a_broken_file_is_exit_2_naming_it_and_the_store_is_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("advisories.db");
    import(&db, &[advisory_fixture("osv")]);
    let before = std::fs::read(&db).expect("read");
    let feeds = dir.path().join("feeds");
    std::fs::create_dir(&feeds).expect("mkdir");
    std::fs::copy(
        advisory_fixture("cvelistV5/CVE-2024-3446.json"),
        feeds.join("a-good.json"),
    )
    .expect("copy");
    let real = std::fs::read(advisory_fixture("cvelistV5/CVE-2015-3456.json")).expect("read");
    std::fs::write(feeds.join("b-truncated.json"), &real[..real.len() / 2]).expect("write");
    db_cmd(&db)
        .arg("import")
        .arg(&feeds)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("b-truncated.json"));
    assert_eq!(std::fs::read(&db).expect("read"), before);
}

#[test]
fn a_store_from_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("future.db");
    import(&db, &[advisory_fixture("osv")]);
    {
        let conn = rusqlite::Connection::open(&db).expect("open");
        conn.execute(
            "UPDATE meta SET value = '999' WHERE key = 'schema_version'",
            [],
        )
        .expect("bump");
    }
    db_cmd(&db)
        .arg("status")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("future.db").and(predicate::str::contains("newer")));
}

#[test]
fn update_offline_keeps_the_store_and_exits_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("advisories.db");
    import(&db, &[advisory_fixture("osv")]);
    let before = std::fs::read(&db).expect("read");
    db_cmd(&db)
        .args(["update", "--offline"])
        .assert()
        .success()
        .stderr(predicate::str::contains("offline").and(predicate::str::contains("kept")));
    assert_eq!(std::fs::read(&db).expect("read"), before);
}

#[test]
fn update_from_a_url_source_fills_the_store() {
    let kev = std::fs::read(advisory_fixture(
        "kev/cisa-kev-known_exploited_vulnerabilities.json",
    ))
    .expect("kev");
    let (base, _) = serve(200, kev);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("advisories.db");
    db_cmd(&db)
        .args(["update", "--retries", "0", "--source"])
        .arg(format!("{base}/kev.json"))
        .assert()
        .success()
        .stdout("");
    assert_eq!(status_json(&db)["store"]["kev"], 1404);
}

#[test]
fn update_against_a_failing_server_is_exit_2_and_keeps_the_store() {
    let (base, requests) = serve(500, b"boom".to_vec());
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("advisories.db");
    import(&db, &[advisory_fixture("osv")]);
    let before = std::fs::read(&db).expect("read");
    let url = format!("{base}/kev.json");
    db_cmd(&db)
        .args(["update", "--retries", "1", "--source", &url])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains(url.as_str())
                .and(predicate::str::contains("500"))
                .and(predicate::str::contains("kept")),
        );
    assert_eq!(requests.lock().expect("lock").len(), 2, "one retry");
    assert_eq!(std::fs::read(&db).expect("read"), before);
}

#[test]
fn update_with_an_unknown_source_name_is_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("advisories.db");
    db_cmd(&db)
        .args(["update", "--source", "no-such-feed"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no-such-feed"));
    assert!(!db.exists());
}

fn advisories(root: &Path, db: &Path) -> assert_cmd::Command {
    let mut cmd = hvguard();
    no_proxy(&mut cmd);
    cmd.arg("advisories")
        .arg("--root")
        .arg(root)
        .arg("--db")
        .arg(db)
        .arg("--policy")
        .arg(root.join("no-policy.toml"))
        .args(["--format", "json"]);
    cmd
}

fn json_of(cmd: &mut assert_cmd::Command) -> (serde_json::Value, i32, String) {
    let out = cmd.output().expect("run");
    let code = out.status.code().unwrap_or(-1);
    let value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (
        value,
        code,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn advisories_new_lists_each_finding_once_and_notifies() {
    let root = materialise("kata-static");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("state.db");
    // An empty policy file: the default /etc/hvguard/policy.toml of the machine must not leak in.
    std::fs::write(root.path().join("no-policy.toml"), "").expect("policy");

    let (all, code_all, _) = json_of(&mut advisories(root.path(), &db));
    assert_eq!(all["schema"], "hvguard.advisories/v1");
    assert_eq!(all["advisories_from"], "shipped");
    let findings = all["findings"].as_array().cloned().unwrap_or_default();
    assert!(
        !findings.is_empty(),
        "the static QEMU of the fixture is old enough to match"
    );
    assert!(findings.iter().all(|f| f["rule"] == "advisory.vulnerable"));

    let (base, posts) = serve(200, Vec::new());
    let (first, code_first, _) = json_of(
        advisories(root.path(), &db)
            .arg("--new")
            .arg("--notify")
            .arg(format!("{base}/hook")),
    );
    assert_eq!(first["new_only"], true);
    assert_eq!(
        first["findings"].as_array().map(Vec::len),
        Some(findings.len())
    );
    assert_eq!(code_first, code_all);
    let posts = posts.lock().expect("lock").clone();
    assert_eq!(posts.len(), 1);
    let alert: serde_json::Value = serde_json::from_slice(&posts[0]).expect("alert JSON");
    assert_eq!(alert["schema"], "hvguard.advisory-alert/v1");
    assert_eq!(alert["new"].as_array().map(Vec::len), Some(findings.len()));

    let (second, code_second, _) = json_of(advisories(root.path(), &db).arg("--new"));
    assert_eq!(second["findings"].as_array().map(Vec::len), Some(0));
    assert_eq!(code_second, 0, "nothing new: nothing to fail on");
}

#[test]
fn a_dead_webhook_is_a_warning_and_keeps_the_exit_code() {
    let root = materialise("kata-static");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("state.db");
    std::fs::write(root.path().join("no-policy.toml"), "").expect("policy");
    let (_, plain_code, _) = json_of(&mut advisories(root.path(), &db));
    let (value, code, stderr) =
        json_of(advisories(root.path(), &db).arg("--notify").arg(dead_url()));
    assert_eq!(code, plain_code);
    assert!(value["findings"].as_array().is_some_and(|f| !f.is_empty()));
    assert!(stderr.contains("warning: notification failed"), "{stderr}");
}

#[test]
fn advisories_read_the_store_when_it_has_records() {
    let root = materialise("kata-static");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("advisories.db");
    std::fs::write(root.path().join("no-policy.toml"), "").expect("policy");
    import(&db, &[advisory_fixture("nvd")]);
    let (value, _, _) = json_of(advisories(root.path(), &db).arg("--all"));
    assert_eq!(value["advisories_from"], "store");
    assert!(value["decisions"].is_array());
}
