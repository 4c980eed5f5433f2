//! `db update` and `db import` hygiene against a real local HTTP server (127.0.0.1, stopped by
//! each test): folders killed runs left are removed (live runs' are not), an empty feed never
//! wipes a source without `--replace`, a server that accepts and never answers meets the
//! update's deadline, and concurrent writers (two updates, two `--notify` runs) lose nothing
//! and send nothing twice.

// Test helpers: a failed setup step should stop with its cause.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use common::http::{Reply, TestServer};
use common::*;

fn db_cmd(db: &Path) -> assert_cmd::Command {
    let mut cmd = hvguard();
    for var in ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"] {
        cmd.env_remove(var);
    }
    cmd.arg("db").arg("--db").arg(db).env_remove("NVD_API_KEY");
    cmd
}

fn kev_bytes() -> Vec<u8> {
    std::fs::read(
        workspace()
            .join("tests/fixtures/advisories/kev/cisa-kev-known_exploited_vulnerabilities.json"),
    )
    .expect("kev fixture")
}

/// A real one-record OSV zip (the `osv_zip` fuzz target's seed) and an empty archive.
fn osv_zip(name: &str) -> Vec<u8> {
    std::fs::read(workspace().join("fuzz/corpus/osv_zip").join(name)).expect("zip seed")
}

fn output(cmd: &mut assert_cmd::Command) -> (i32, String) {
    let out = cmd.output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A download folder as a run leaves it, dated an hour ago; with `lock` its lock file too.
fn download_folder(dir: &Path, pid: u32, lock: bool) -> (PathBuf, Option<std::fs::File>) {
    let folder = dir.join(format!(".advisories.db.download-{pid}"));
    std::fs::create_dir(&folder).expect("mkdir");
    std::fs::write(folder.join("0.feed"), vec![b'x'; 1 << 20]).expect("feed");
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::open(&folder)
        .and_then(|f| f.set_modified(hour_ago))
        .expect("date the folder");
    let lock_file = lock.then(|| {
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(format!(".advisories.db.download-{pid}.lock")))
            .expect("lock file")
    });
    (folder, lock_file)
}

#[test]
fn folders_of_killed_updates_are_removed_and_live_ones_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("advisories.db");
    // Killed runs: one from an hvguard that kept no lock file, one whose lock died with it.
    let (killed_old, _) = download_folder(dir.path(), 4_194_001, false);
    let (killed, unheld) = download_folder(dir.path(), 4_194_002, true);
    drop(unheld);
    // A live run: its lock is held (here by the test), so its folder is not touched.
    let (live, held) = download_folder(dir.path(), 4_194_003, true);
    let held = held.expect("lock file");
    rustix::fs::flock(&held, rustix::fs::FlockOperation::NonBlockingLockExclusive).expect("flock");

    let kev = kev_bytes();
    let server = TestServer::start(move |_| Reply::Status(200, kev.clone()));
    let (code, stderr) = output(db_cmd(&db).args(["update", "--source", &server.url("/kev.json")]));
    assert_eq!(code, 0, "{stderr}");
    assert!(!killed_old.exists() && !killed.exists(), "{stderr}");
    assert!(
        stderr.contains(&format!("removed {}", killed.display())),
        "{stderr}"
    );
    assert!(live.join("0.feed").exists(), "a live run's folder is kept");
    drop(held);
    // Nothing of this run is left: only the store, its lock, and the live run's folder.
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            ".advisories.db.download-4194003",
            ".advisories.db.download-4194003.lock",
            ".advisories.db.lock",
            "advisories.db",
        ]
    );
    drop(server);
}

#[test]
fn an_empty_osv_zip_never_wipes_a_source_without_replace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("advisories.db");
    let phase = Arc::new(AtomicUsize::new(0));
    let server = {
        let phase = Arc::clone(&phase);
        let (real, empty) = (
            osv_zip("real-osv-one-record.zip"),
            osv_zip("junk-eocd-only.zip"),
        );
        TestServer::start(move |_| match phase.load(Ordering::SeqCst) {
            0 => Reply::Status(200, real.clone()),
            _ => Reply::Status(200, empty.clone()),
        })
    };
    let url = server.url("/crates.io/all.zip");
    let (code, stderr) = output(db_cmd(&db).args(["update", "--source", &url]));
    assert_eq!(code, 0, "{stderr}");
    let before = std::fs::read(&db).expect("store");

    phase.store(1, Ordering::SeqCst);
    let (code, stderr) = output(db_cmd(&db).args(["update", "--source", &url]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("the feed holds no records")
            && stderr.contains("remove the 1 record(s)")
            && stderr.contains("--replace"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(&db).expect("store"),
        before,
        "store unchanged"
    );

    let (code, stderr) = output(db_cmd(&db).args(["update", "--replace", "--source", &url]));
    assert_eq!(code, 0, "{stderr}");
    drop(server);

    // The same for a file given to `db import`.
    let zip = dir.path().join("all.zip");
    std::fs::write(&zip, osv_zip("real-osv-one-record.zip")).expect("zip");
    let (code, stderr) = output(db_cmd(&db).arg("import").arg(&zip));
    assert_eq!(code, 0, "{stderr}");
    std::fs::write(&zip, osv_zip("junk-eocd-only.zip")).expect("zip");
    let before = std::fs::read(&db).expect("store");
    let (code, stderr) = output(db_cmd(&db).arg("import").arg(&zip));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("the feed holds no records"), "{stderr}");
    assert_eq!(std::fs::read(&db).expect("store"), before);
    let (code, stderr) = output(db_cmd(&db).args(["import", "--replace"]).arg(&zip));
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_server_that_accepts_and_never_answers_meets_the_deadline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("advisories.db");
    let kev = kev_bytes();
    let seed = TestServer::start(move |_| Reply::Status(200, kev.clone()));
    let (code, stderr) = output(db_cmd(&db).args(["update", "--source", &seed.url("/kev.json")]));
    assert_eq!(code, 0, "{stderr}");
    drop(seed);
    let before = std::fs::read(&db).expect("store");

    let silent = TestServer::start(|_| Reply::Silent);
    let started = Instant::now();
    // The per-download timeout and retries are left at their defaults (600 s, 3): only the
    // whole update's deadline can end this soon.
    let (code, stderr) = output(db_cmd(&db).args([
        "update",
        "--deadline",
        "3",
        "--source",
        &silent.url("/kev.json"),
    ]));
    let took = started.elapsed();
    assert_eq!(code, 2, "{stderr}");
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert!(
        stderr.contains("did not finish within its 3 s deadline (--deadline)"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&silent.url("/kev.json")),
        "names the URL: {stderr}"
    );
    assert!(stderr.contains("the previous store at"), "{stderr}");
    assert_eq!(std::fs::read(&db).expect("store"), before);
    drop(silent);
}

#[test]
fn the_update_deadline_has_a_default() {
    let out = hvguard()
        .args(["db", "update", "--help"])
        .output()
        .expect("help");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--deadline <SECONDS>"), "{help}");
    assert!(help.contains("[default: 1800]"), "{help}");
}

#[test]
fn two_updates_at_once_both_land() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("advisories.db");
    let kev = kev_bytes();
    let zip = osv_zip("real-osv-one-record.zip");
    let server = TestServer::start(move |n| {
        // Alternate, so that each update gets its own feed whatever the order.
        if n % 2 == 0 {
            Reply::Status(200, kev.clone())
        } else {
            Reply::Status(200, zip.clone())
        }
    });
    let spawn = |url: String| {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("hvguard"))
            .env("NO_COLOR", "1")
            .env_remove("http_proxy")
            .env_remove("HTTP_PROXY")
            .args(["db", "--db"])
            .arg(&db)
            .args(["update", "--source", &url])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let a = spawn(server.url("/a"));
    let b = spawn(server.url("/b"));
    for child in [a, b] {
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = db_cmd(&db)
        .args(["status", "--format", "json"])
        .output()
        .expect("status");
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let sources: Vec<&str> = status["store"]["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        sources.len(),
        2,
        "neither update lost the other's source: {sources:?}"
    );
    drop(server);
}

#[test]
fn two_notify_runs_at_once_send_each_alert_once() {
    let root = materialise("kata-static");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("advisories.db");
    let server = TestServer::start(|_| Reply::Status(200, Vec::new()));
    let hook = server.url("/hook");
    let spawn = || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("hvguard"))
            .env("NO_COLOR", "1")
            .env(
                "HVGUARD_POLICY",
                workspace().join("tests/fixtures/policy/empty.toml"),
            )
            .env(
                "HVGUARD_CACHE_DIR",
                Path::new(env!("CARGO_TARGET_TMPDIR")).join("hvguard-digest-cache"),
            )
            .env_remove("http_proxy")
            .env_remove("HTTP_PROXY")
            .arg("advisories")
            .arg("--root")
            .arg(root.path())
            .arg("--db")
            .arg(&db)
            .args(["--format", "json", "--notify", &hook])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let runs = [spawn(), spawn()];
    let mut stderr = String::new();
    for child in runs {
        let out = child.wait_with_output().expect("wait");
        stderr.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    let posts = server.requests();
    assert_eq!(posts.len(), 1, "one post in all: {stderr}");
    assert!(stderr.contains("nothing new to notify"), "{stderr}");
    drop(server);
}
