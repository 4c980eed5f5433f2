//! Advisory data for a fleet: one publisher runs `db export`, a real web server (Python's
//! `http.server`, started on 127.0.0.1 by the test and stopped by PID) serves the file, and
//! several consumers take it with `db update --source URL`. Tampered, inconsistent, stale,
//! future-dated, too-new and missing snapshots are refused with the store left byte for
//! byte as it was; a feed file at a URL is still imported as a feed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{hvguard, workspace};
use hvguard_advisory::store::export::export_store;
use hvguard_advisory::store::SCHEMA_VERSION;
use serde_json::Value;

/// A real HTTP server serving one folder, stopped by PID when dropped.
struct WebServer {
    child: Child,
    base: String,
}

impl WebServer {
    /// `None` (after saying so) when python3 is missing outside CI; a failure under CI.
    fn serve(dir: &Path) -> Option<WebServer> {
        let spawned = Command::new("python3")
            .args([
                "-u",
                "-m",
                "http.server",
                "0",
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "python3 (the test's web server) is required under CI: {e}"
                );
                eprintln!("SKIPPED: python3 is not available to serve the mirror: {e}");
                return None;
            }
        };
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("http.server says where it listens");
        // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
        let port: u16 = line
            .split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        Some(WebServer {
            child,
            base: format!("http://127.0.0.1:{port}"),
        })
    }

    fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.base)
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How long `export_store` waits for the store lock (nothing else holds it here).
const LOCK_WAIT: Duration = Duration::from_secs(10);

fn feeds() -> PathBuf {
    workspace().join("tests/fixtures/advisories")
}

fn db(store: &Path) -> assert_cmd::Command {
    let mut cmd = hvguard();
    cmd.arg("db").arg("--db").arg(store);
    for var in ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"] {
        cmd.env_remove(var);
    }
    cmd
}

fn take(store: &Path, url: &str, extra: &[&str]) -> (i32, String) {
    let out = db(store)
        .args(["update", "--retries", "0", "--source", url])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn status(store: &Path) -> Value {
    let out = db(store)
        .args(["status", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn manifest_of(file: &Path) -> Value {
    let bytes = std::fs::read(file).unwrap();
    let end = bytes.iter().position(|b| *b == b'\n').unwrap();
    serde_json::from_slice(&bytes[..end]).unwrap()
}

/// Replaces the manifest line of an export, keeping its content.
fn with_manifest(file: &Path, out: &Path, edit: impl FnOnce(&mut Value)) {
    let bytes = std::fs::read(file).unwrap();
    let end = bytes.iter().position(|b| *b == b'\n').unwrap();
    let mut manifest: Value = serde_json::from_slice(&bytes[..end]).unwrap();
    edit(&mut manifest);
    let mut new = serde_json::to_vec(&manifest).unwrap();
    new.extend_from_slice(&bytes[end..]);
    std::fs::write(out, new).unwrap();
}

fn assert_refused(store: &Path, url: &str, extra: &[&str], expect: &str) {
    let before = std::fs::read(store).ok();
    let (code, stderr) = take(store, url, extra);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(expect), "expected {expect:?} in:\n{stderr}");
    assert_eq!(std::fs::read(store).ok(), before, "the store changed");
}

#[test]
fn one_publisher_many_consumers_and_every_bad_snapshot_refused() {
    let work = tempfile::tempdir().unwrap();
    let publisher = work.path().join("publisher/advisories.db");
    let mirror = work.path().join("mirror/hvguard");
    std::fs::create_dir_all(&mirror).unwrap();
    db(&publisher)
        .arg("import")
        .args([
            feeds().join("nvd"),
            feeds().join("kev"),
            feeds().join("epss"),
        ])
        .assert()
        .success();
    // The publisher's own state (an update journal, `advisories --new` state) is never
    // exported.
    let mut journal = hvguard_update::journal::Journal::open(&publisher).unwrap();
    journal.begin("apply", &[], None).unwrap();
    drop(journal);
    rusqlite::Connection::open(&publisher)
        .unwrap()
        .execute(
            "INSERT INTO seen (host, root, advisory, binary, first_seen, listed)
             VALUES ('publisher', '/', 'CVE-2024-3446', '/usr/bin/qemu-system-x86_64',
                     '2026-11-01T00:00:00Z', 1)",
            [],
        )
        .unwrap();
    // A stale snapshot for later: made ten days ago by the same store.
    let stale = mirror.join("stale.hvdb");
    export_store(
        &publisher,
        &stale,
        jiff::Timestamp::now()
            .checked_sub(jiff::SignedDuration::from_hours(240))
            .unwrap(),
        LOCK_WAIT,
    )
    .unwrap();
    let future = mirror.join("future.hvdb");
    export_store(
        &publisher,
        &future,
        jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_hours(48))
            .unwrap(),
        LOCK_WAIT,
    )
    .unwrap();
    let earlier = mirror.join("earlier.hvdb");
    db(&publisher)
        .arg("export")
        .arg(&earlier)
        .assert()
        .success();
    // Whole seconds: the next export must be visibly newer.
    std::thread::sleep(Duration::from_millis(1100));
    let export = mirror.join("advisories.hvdb");
    let out = db(&publisher).arg("export").arg(&export).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest = manifest_of(&export);
    assert_eq!(manifest["schema"], "hvguard.db-export/v1");
    assert_eq!(manifest["store_schema_version"], SCHEMA_VERSION);
    assert_eq!(manifest["content"]["encoding"], "sqlite3+gzip");
    assert_eq!(manifest["sources"].as_array().unwrap().len(), 3);
    let published = status(&publisher);
    assert_eq!(
        manifest["counts"]["advisories"],
        published["store"]["advisories"]
    );
    assert!(manifest["counts"]["kev"].as_u64().unwrap() > 1000);
    let sha = manifest["content"]["sha256"].as_str().unwrap().to_owned();

    let Some(server) = WebServer::serve(work.path().join("mirror").as_path()) else {
        return;
    };
    let url = server.url("hvguard/advisories.hvdb");

    // Consumer 1: no store yet.
    let fresh = work.path().join("node-1/advisories.db");
    let (code, stderr) = take(&fresh, &url, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("verified"), "{stderr}");
    let s = status(&fresh);
    assert_eq!(s["snapshot"]["sha256"], sha.as_str());
    assert_eq!(s["snapshot"]["taken_from"], url.as_str());
    assert_eq!(s["store"]["advisories"], published["store"]["advisories"]);
    assert_eq!(s["store"]["sources"], published["store"]["sources"]);
    assert_eq!(s["store"]["schema_version"], SCHEMA_VERSION);
    assert_eq!(
        s["store"]["seen"], 0,
        "the publisher's seen rows were exported"
    );
    let journal_tables: i64 = rusqlite::Connection::open(&fresh)
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'update\\_%' ESCAPE '\\'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(journal_tables, 0, "the publisher's journal was exported");

    // Consumer 2: has its own older data, an update journal and `advisories --new` state;
    // the journal and the seen pairs survive, the feed data is the mirror's.
    let busy = work.path().join("node-2/advisories.db");
    db(&busy)
        .arg("import")
        .arg(feeds().join("osv"))
        .assert()
        .success();
    let mut journal = hvguard_update::journal::Journal::open(&busy).unwrap();
    let tx = journal.begin("apply", &[], None).unwrap();
    drop(journal);
    {
        let conn = rusqlite::Connection::open(&busy).unwrap();
        conn.execute(
            "INSERT INTO seen (host, root, advisory, binary, first_seen, listed)
             VALUES ('node-2', '/', 'CVE-2024-3446', '/usr/bin/qemu-system-x86_64',
                     '2026-11-01T00:00:00Z', 1)",
            [],
        )
        .unwrap();
    }
    // Its own import is newer than the earlier export: going back is refused.
    assert_refused(
        &busy,
        &server.url("hvguard/earlier.hvdb"),
        &[],
        "refusing to go back in time",
    );
    // Make the node's own data older than the snapshot, as on a node that imported last week.
    {
        let conn = rusqlite::Connection::open(&busy).unwrap();
        conn.execute(
            "UPDATE sources SET imported_at = '2026-01-01T00:00:00Z'",
            [],
        )
        .unwrap();
    }
    let (code, stderr) = take(&busy, &url, &[]);
    assert_eq!(code, 0, "{stderr}");
    let kept = stderr
        .lines()
        .find_map(|l| l.strip_prefix("hvguard: kept this node's own tables: "))
        .unwrap_or_else(|| panic!("no kept tables in:\n{stderr}"));
    let kept: Vec<&str> = kept.split(", ").collect();
    for table in [
        "seen",
        "history_records",
        "history_blobs",
        "history_baseline",
        "digest_cache",
        "update_artifacts",
        "update_components",
        "update_stages",
        "update_transactions",
    ] {
        assert!(kept.contains(&table), "{table} not kept: {kept:?}");
    }
    for table in ["advisories", "sources", "kev", "meta"] {
        assert!(!kept.contains(&table), "{table} is fleet data: {kept:?}");
    }
    let journal = hvguard_update::journal::read_journal(&busy).unwrap();
    assert_eq!(journal.len(), 1);
    assert_eq!(journal[0].id, tx);
    let seen: i64 = rusqlite::Connection::open(&busy)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM seen", [], |r| r.get(0))
        .unwrap();
    assert_eq!(seen, 1);
    let s = status(&busy);
    assert_eq!(s["store"]["sources"], published["store"]["sources"]);
    assert!(busy.with_file_name("advisories.db.bak").is_file());
    // The scan reads the taken store.
    let scan = hvguard()
        .env("HVGUARD_DB", &busy)
        .args(["scan", "--format", "json", "--root"])
        .arg(workspace().join("tests/fixtures/hosts/intel-problems"))
        .output()
        .unwrap();
    assert!(scan.status.code().unwrap() < 2);

    // Consumer 3 takes it twice: the second time there is nothing to do.
    let again = work.path().join("node-3/advisories.db");
    assert_eq!(take(&again, &url, &[]).0, 0);
    let before = std::fs::read(&again).unwrap();
    let (code, stderr) = take(&again, &url, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("already holds this snapshot"), "{stderr}");
    assert_eq!(std::fs::read(&again).unwrap(), before);

    // An older snapshot than the one the node has: refused.
    assert_refused(
        &again,
        &server.url("hvguard/earlier.hvdb"),
        &[],
        "refusing to go back in time",
    );
    // A snapshot older than the allowed age (the publisher stopped): refused, even for a
    // node without data.
    let empty = work.path().join("node-4/advisories.db");
    assert_refused(
        &empty,
        &server.url("hvguard/stale.hvdb"),
        &[],
        "older than the 7d 0h allowed",
    );
    assert!(!empty.exists());
    assert_refused(
        &again,
        &url,
        &["--max-snapshot-age", "0"],
        "the snapshot is",
    );
    // From the future (a publisher with a wrong clock would block every later snapshot).
    assert_refused(
        &again,
        &server.url("hvguard/future.hvdb"),
        &[],
        "in the future",
    );

    // Tampered: one byte of the compressed content flipped.
    let mut bytes = std::fs::read(&export).unwrap();
    let body = bytes.iter().position(|b| *b == b'\n').unwrap() + 1;
    let middle = body + (bytes.len() - body) / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(mirror.join("flipped.hvdb"), &bytes).unwrap();
    // Either gzip's own CRC or the SHA-256 catches it; both refuse. (A node that already
    // holds the content the manifest names would not even download-check it: nothing to do.)
    let (code, stderr) = take(&empty, &server.url("hvguard/flipped.hvdb"), &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("content hash mismatch") || stderr.contains("not intact gzip"),
        "{stderr}"
    );
    assert!(!empty.exists());
    // Tampered: another store's content behind this manifest (intact gzip, wrong hash).
    with_manifest(&stale, &mirror.join("swapped.hvdb"), |m| {
        m["content"]["sha256"] = sha.as_str().into();
        m["created_at"] = manifest["created_at"].clone();
    });
    assert_refused(
        &empty,
        &server.url("hvguard/swapped.hvdb"),
        &[],
        "content hash mismatch",
    );
    // Tampered manifest: claims to be newer than the content it carries.
    with_manifest(&earlier, &mirror.join("relabelled.hvdb"), |m| {
        m["created_at"] = manifest["created_at"].clone();
    });
    assert_refused(
        &empty,
        &server.url("hvguard/relabelled.hvdb"),
        &[],
        "the manifest does not match the content",
    );
    // Written by a newer hvguard.
    with_manifest(&export, &mirror.join("newer.hvdb"), |m| {
        m["store_schema_version"] = 99.into();
    });
    assert_refused(
        &empty,
        &server.url("hvguard/newer.hvdb"),
        &[],
        "advisory store schema 99 is newer",
    );
    // Written by an older hvguard (another store schema): refused with what to do.
    with_manifest(&export, &mirror.join("older.hvdb"), |m| {
        m["store_schema_version"] = (SCHEMA_VERSION - 1).into();
    });
    assert_refused(
        &empty,
        &server.url("hvguard/older.hvdb"),
        &[],
        &format!(
            "the snapshot holds an advisory store of schema {}, this hvguard takes snapshots \
             of schema {SCHEMA_VERSION} only; upgrade hvguard on the publishing node",
            SCHEMA_VERSION - 1
        ),
    );
    // Nothing there.
    assert_refused(&empty, &server.url("hvguard/missing.hvdb"), &[], "404");
    assert!(!empty.exists());

    // A feed file at a URL is still a feed: imported as before.
    std::fs::copy(
        feeds().join("kev/cisa-kev-known_exploited_vulnerabilities.json"),
        mirror.join("kev.json"),
    )
    .unwrap();
    let feed_node = work.path().join("node-6/advisories.db");
    let (code, stderr) = take(&feed_node, &server.url("hvguard/kev.json"), &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(status(&feed_node)["store"]["kev"].as_u64().unwrap() > 1000);
    assert!(status(&feed_node)["snapshot"].is_null());
}
