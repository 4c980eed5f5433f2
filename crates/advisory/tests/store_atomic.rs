//! The advisory store: real fixture imports, atomic replacement, the schema gate and its
//! upgrade, the `seen` state per host, the writer lock, empty feeds.

// Test helpers outside #[test] fns: a failed setup step should panic with its cause.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::fixture;
use hvguard_advisory::import::{import_path, import_path_with, ImportOptions, Imported};
use hvguard_advisory::store::{
    update_store, update_store_with, ImportBatch, Progress, SourceInfo, StateScope, StateStore,
    Store, StoreError, StoreLock, WriteOptions, SCHEMA_VERSION,
};
use hvguard_advisory::{shipped_snapshot, Advisory, Product};

const NOW: &str = "2026-11-27T12:00:00Z";

fn batch(name: &str, imported: Imported) -> ImportBatch {
    ImportBatch {
        source: SourceInfo {
            name: name.into(),
            location: format!("/fixtures/{name}"),
            format: "test".into(),
            size: 0,
            sha256: None,
        },
        imported,
    }
}

fn import(rel: &str) -> Imported {
    import_path(&fixture(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The tracker fixture holds no hypervisor package, so ask for the packages it does hold.
fn debian() -> Imported {
    let options = ImportOptions {
        debian_packages: ["chromium", "prototypejs"].map(String::from).into(),
        ..ImportOptions::default()
    };
    import_path_with(&fixture("debian"), &options).expect("debian")
}

fn shipped() -> Imported {
    Imported {
        advisories: shipped_snapshot().expect("shipped snapshot"),
        ..Imported::default()
    }
}

fn ok(_: Progress) -> Result<(), String> {
    Ok(())
}

fn write(path: &Path, batches: &[ImportBatch]) {
    update_store(path, batches, NOW, &mut ok).unwrap_or_else(|e| panic!("{e}"));
}

/// Everything in the store's folder except the store itself: temp copies must not linger.
fn leftovers(dir: &Path, store: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p != store && !p.to_string_lossy().ends_with(".lock"))
        .collect();
    out.sort();
    out
}

#[test]
fn imports_every_real_fixture_feed_and_joins_the_facts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("sub/advisories.db");
    let batches = vec![
        batch("shipped", shipped()),
        batch("cve5", import("cvelistV5")),
        batch("nvd", import("nvd")),
        batch("osv", import("osv")),
        batch("debian", debian()),
        batch("kev", import("kev")),
        batch("epss", import("epss/epss_scores-sample.csv")),
    ];
    let summary = update_store(&db, &batches, NOW, &mut ok).expect("update");
    assert_eq!(summary.path, db);
    let store = Store::open_readonly(&db).expect("open");
    let status = store.status().expect("status");
    assert_eq!(status.schema_version, SCHEMA_VERSION);
    assert_eq!(status.sources.len(), 7);
    assert_eq!(status.kev, 1404, "the KEV fixture has 1404 entries");
    assert_eq!(status.epss, 7, "the EPSS sample has 7 rows");
    assert!(status.distro > 0);
    let kev = status
        .sources
        .iter()
        .find(|s| s.name == "kev")
        .expect("kev");
    assert_eq!(kev.records, 1404);
    assert_eq!(kev.imported_at, NOW);
    assert!(status.per_product.get("qemu").copied().unwrap_or(0) > 100);
    assert_eq!(summary.advisories, status.advisories);

    let advisories = store.advisories().expect("load");
    assert_eq!(advisories.len() as u64, status.advisories);
    let ids: Vec<&str> = advisories.iter().map(|a| a.id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "advisories come back sorted by id");
    // VENOM (CVE-2015-3456) is in the EPSS sample: the score is joined at load time.
    let venom = advisories
        .iter()
        .find(|a| a.id == "CVE-2015-3456")
        .expect("VENOM");
    assert!(venom.epss.is_some(), "EPSS joined onto {}", venom.id);
    assert!(venom.products.iter().any(|p| p.product == Product::Qemu));
    // The later NVD batch replaced the CVE 5 record of the same id: last source wins.
    let rustsec: Vec<&Advisory> = advisories
        .iter()
        .filter(|a| {
            a.id.starts_with("RUSTSEC-") || a.aliases.iter().any(|x| x.starts_with("RUSTSEC-"))
        })
        .collect();
    assert!(!rustsec.is_empty(), "OSV records stored");
    assert!(leftovers(dir.path().join("sub").as_path(), &db).is_empty());
}

#[test]
fn a_failure_half_way_leaves_the_old_store_byte_identical() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("advisories.db");
    write(&db, &[batch("cve5", import("cvelistV5"))]);
    let before = std::fs::read(&db).expect("read");

    let big = batch("shipped", shipped());
    let half = big.records() / 2;
    let mut seen_progress = 0;
    let mut fail_half_way = |p: Progress| {
        seen_progress = p.done;
        if p.done >= half {
            Err(format!(
                "simulated kill after {} of {} records",
                p.done, p.total
            ))
        } else {
            Ok(())
        }
    };
    let err = update_store(&db, &[big], NOW, &mut fail_half_way).expect_err("must fail");
    assert!(matches!(err, StoreError::Interrupted { .. }), "{err}");
    assert!(err.to_string().contains("advisories.db"), "{err}");
    assert!(seen_progress >= half && seen_progress > 0);
    assert_eq!(
        std::fs::read(&db).expect("read"),
        before,
        "old store unchanged"
    );
    assert!(leftovers(dir.path(), &db).is_empty(), "temp copy removed");
    // And the old store still reads.
    let store = Store::open_readonly(&db).expect("open");
    assert_eq!(store.advisories().expect("load").len(), 20);
}

#[test]
fn a_store_from_a_newer_schema_is_refused_by_readers_and_writers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("advisories.db");
    write(&db, &[batch("osv", import("osv"))]);
    {
        let conn = rusqlite::Connection::open(&db).expect("open");
        conn.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
            [(SCHEMA_VERSION + 1).to_string()],
        )
        .expect("bump");
    }
    let before = std::fs::read(&db).expect("read");
    let err = Store::open_readonly(&db).expect_err("newer schema");
    assert!(matches!(err, StoreError::NewerSchema { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains(&db.display().to_string()), "{text}");
    assert!(text.contains("newer"), "{text}");
    let err = update_store(&db, &[batch("kev", import("kev"))], NOW, &mut ok).expect_err("refused");
    assert!(matches!(err, StoreError::NewerSchema { .. }), "{err}");
    assert_eq!(std::fs::read(&db).expect("read"), before);
    assert!(leftovers(dir.path(), &db).is_empty());
}

#[test]
fn junk_and_missing_files_are_clear_errors_naming_the_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![b'x'; 4096]).expect("write");
    let err = Store::open_readonly(&junk).expect_err("junk");
    assert!(err.to_string().contains("junk.db"), "{err}");
    let err = update_store(&junk, &[batch("osv", import("osv"))], NOW, &mut ok).expect_err("junk");
    assert!(err.to_string().contains("junk.db"), "{err}");
    assert_eq!(std::fs::read(&junk).expect("read"), vec![b'x'; 4096]);

    let missing = dir.path().join("missing.db");
    let err = Store::open_readonly(&missing).expect_err("missing");
    assert!(err.to_string().contains("missing.db"), "{err}");
    assert!(!missing.exists(), "reading never creates a store");
}

#[test]
fn importing_a_source_again_replaces_what_it_brought() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("advisories.db");
    write(
        &db,
        &[
            batch("feed", import("cvelistV5")),
            batch("osv", import("osv")),
        ],
    );
    let one = import("cvelistV5/CVE-2024-3446.json");
    write(&db, &[batch("feed", one)]);
    let store = Store::open_readonly(&db).expect("open");
    let status = store.status().expect("status");
    let feed = status
        .sources
        .iter()
        .find(|s| s.name == "feed")
        .expect("feed");
    assert_eq!(feed.records, 1);
    let osv = status
        .sources
        .iter()
        .find(|s| s.name == "osv")
        .expect("osv");
    assert_eq!(osv.records, 4, "other sources are kept");
    assert_eq!(status.advisories, 5);
}

fn scope(host: &str) -> StateScope {
    StateScope {
        host: host.to_owned(),
        root: "/".to_owned(),
    }
}

#[test]
fn seen_pairs_are_new_once_per_host_and_survive_updates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("state/advisories.db");
    let pairs = vec![
        (
            "CVE-2024-3446".to_owned(),
            "/usr/bin/qemu-system-x86_64".to_owned(),
        ),
        (
            "CVE-2024-3446".to_owned(),
            "/opt/kata/bin/qemu-system-x86_64".to_owned(),
        ),
    ];
    let node1 = scope("machine-id:0123456789abcdef0123456789abcdef");
    {
        let mut state = StateStore::open(&db, Duration::ZERO).expect("create");
        assert_eq!(
            state.record_listed(&node1, &pairs, NOW).expect("seen"),
            pairs
        );
        assert!(state
            .record_listed(&node1, &pairs, NOW)
            .expect("seen")
            .is_empty());
        // Another host sharing the store has its own state.
        let node2 = scope("machine-id:fedcba9876543210fedcba9876543210");
        assert_eq!(
            state.record_listed(&node2, &pairs, NOW).expect("seen"),
            pairs
        );
        // So has the same host read through another root (a mounted image).
        let image = StateScope {
            root: "/mnt/image".to_owned(),
            ..node1.clone()
        };
        assert_eq!(
            state.record_listed(&image, &pairs, NOW).expect("seen"),
            pairs
        );
    }
    write(&db, &[batch("osv", import("osv"))]);
    assert_eq!(
        Store::open_readonly(&db)
            .expect("open")
            .status()
            .expect("status")
            .seen,
        6
    );
    let mut state = StateStore::open(&db, Duration::ZERO).expect("open");
    let more = vec![
        pairs[0].clone(),
        (
            "CVE-2015-3456".to_owned(),
            "/usr/bin/qemu-system-x86_64".to_owned(),
        ),
    ];
    assert_eq!(
        state.record_listed(&node1, &more, NOW).expect("seen"),
        vec![more[1].clone()]
    );
}

#[test]
fn alerts_are_pending_until_marked_delivered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("advisories.db");
    let node = scope("hostname:node-1");
    let keys = vec![
        ("CVE-2024-3446".to_owned(), "/usr/bin/qemu".to_owned()),
        ("CVE-2015-3456".to_owned(), "/usr/bin/qemu".to_owned()),
    ];
    let mut state = StateStore::open(&db, Duration::ZERO).expect("create");
    let first = state.pending_alerts(&node, &keys, NOW).expect("pending");
    assert_eq!(first.len(), 2);
    assert!(first.iter().all(|p| !p.retry));
    // The post failed: nothing is marked, both are owed again, now as retries.
    let again = state.pending_alerts(&node, &keys, NOW).expect("pending");
    assert_eq!(again.len(), 2);
    assert!(again.iter().all(|p| p.retry));
    // The webhook accepted the first only.
    state
        .mark_delivered(&node, &keys[..1], NOW)
        .expect("delivered");
    let left = state.pending_alerts(&node, &keys, NOW).expect("pending");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].key, keys[1]);
    // Listing with --new is a separate channel: nothing was listed yet.
    assert_eq!(
        state.record_listed(&node, &keys, NOW).expect("listed"),
        keys
    );
}

/// A store written by hvguard with schema 1 (tests/fixtures/stores/README.md): 13 shipped
/// advisories and 13 `seen` rows from `advisories --new` on the kata-static fixture.
fn v1_store(dir: &Path) -> PathBuf {
    let db = dir.join("advisories.db");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/stores/v1-kata-static-seen.db"),
        &db,
    )
    .expect("copy the v1 store");
    db
}

#[test]
fn a_schema_1_store_is_upgraded_in_place_and_its_rows_adopted_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = v1_store(dir.path());
    let before = Store::open_readonly(&db)
        .expect("v1 reads")
        .status()
        .expect("status");
    assert_eq!(
        (before.schema_version, before.seen, before.advisories),
        (1, 13, 13)
    );
    let keys: Vec<(String, String)> = {
        let conn = rusqlite::Connection::open(&db).expect("sqlite");
        let mut stmt = conn
            .prepare("SELECT advisory, binary FROM seen ORDER BY advisory")
            .expect("prepare");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    let mut state = StateStore::open(&db, Duration::ZERO).expect("upgrade");
    let node = scope("hostname:kata-worker-2");
    // The first host takes the old rows over: nothing new, nothing owed.
    assert!(state
        .record_listed(&node, &keys, NOW)
        .expect("listed")
        .is_empty());
    assert!(state
        .pending_alerts(&node, &keys, NOW)
        .expect("pending")
        .is_empty());
    // A second host starts fresh.
    let other = scope("hostname:kata-worker-3");
    assert_eq!(
        state
            .record_listed(&other, &keys, NOW)
            .expect("listed")
            .len(),
        13
    );
    drop(state);
    let after = Store::open_readonly(&db)
        .expect("v2 reads")
        .status()
        .expect("status");
    assert_eq!(after.schema_version, SCHEMA_VERSION);
    assert_eq!((after.seen, after.advisories), (26, 13));
}

#[test]
fn a_failed_upgrade_leaves_the_schema_1_store_byte_identical() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = v1_store(dir.path());
    // A table in the way of the upgrade's second statement: it fails half-way.
    rusqlite::Connection::open(&db)
        .and_then(|c| c.execute_batch("CREATE TABLE seen_v2 (x INTEGER);"))
        .expect("plant");
    let before = std::fs::read(&db).expect("read");
    let err = StateStore::open(&db, Duration::ZERO).expect_err("upgrade fails");
    assert!(
        err.to_string()
            .contains("upgrading the store from schema 1"),
        "{err}"
    );
    assert_eq!(std::fs::read(&db).expect("read"), before);
    let status = Store::open_readonly(&db)
        .expect("still v1")
        .status()
        .expect("status");
    assert_eq!((status.schema_version, status.seen), (1, 13));
}

#[test]
fn an_update_upgrades_a_schema_1_store_and_keeps_its_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = v1_store(dir.path());
    write(&db, &[batch("kev", import("kev"))]);
    let status = Store::open_readonly(&db)
        .expect("open")
        .status()
        .expect("status");
    assert_eq!((status.schema_version, status.seen), (SCHEMA_VERSION, 13));
}

#[test]
fn an_empty_feed_never_wipes_a_source_unless_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("advisories.db");
    write(&db, &[batch("osv", import("osv"))]);
    let before = std::fs::read(&db).expect("read");
    let empty = batch("osv", Imported::default());
    let err = update_store(&db, std::slice::from_ref(&empty), NOW, &mut ok).expect_err("refused");
    let text = err.to_string();
    assert!(text.starts_with("osv: the feed holds no records"), "{text}");
    assert!(
        text.contains("remove the 4 record(s)") && text.contains("--replace"),
        "{text}"
    );
    assert_eq!(std::fs::read(&db).expect("read"), before);
    let replace = WriteOptions {
        replace_empty: true,
        ..WriteOptions::default()
    };
    update_store_with(&db, &[empty], NOW, replace, &mut ok).expect("asked for");
    let status = Store::open_readonly(&db)
        .expect("open")
        .status()
        .expect("status");
    assert_eq!(status.advisories, 0);
}

#[test]
fn ten_thousand_records_round_trip() {
    let base = shipped_snapshot().expect("shipped");
    let mut advisories = Vec::new();
    for i in 0..10_000usize {
        let mut a = base[i % base.len()].clone();
        a.id = format!("HVG-SYNTH-{i:05}");
        advisories.push(a);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("advisories.db");
    let imported = Imported {
        advisories,
        ..Imported::default()
    };
    write(&db, &[batch("synthetic", imported)]);
    let store = Store::open_readonly(&db).expect("open");
    let started = std::time::Instant::now();
    let loaded = store.advisories().expect("load");
    eprintln!(
        "loaded {} advisories in {:?}",
        loaded.len(),
        started.elapsed()
    );
    assert_eq!(loaded.len(), 10_000);
    assert_eq!(loaded[0].id, "HVG-SYNTH-00000");
    assert_eq!(loaded[0].products, base[0].products);
}

#[test]
fn a_path_source_is_named_sized_and_hashed() {
    let file = fixture("epss/epss_scores-sample.csv.gz");
    let imported = import_path(&file).expect("epss");
    let info = SourceInfo::for_path(&file, &imported).expect("info");
    assert!(
        info.name.ends_with("epss/epss_scores-sample.csv.gz"),
        "{}",
        info.name
    );
    assert_eq!(info.size, std::fs::metadata(&file).expect("meta").len());
    assert_eq!(info.format, "epss");
    assert_eq!(info.sha256.as_deref().map(str::len), Some(64));

    let dir = fixture("osv");
    let imported = import_path(&dir).expect("osv");
    let info = SourceInfo::for_path(&dir, &imported).expect("info");
    assert_eq!(info.sha256, None, "a folder has no single hash");
    assert_eq!(info.format, "osv");
    assert!(info.size > 0);
}

#[test]
fn a_writer_waits_for_the_lock_then_gives_up_and_stale_copies_are_cleared() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("advisories.db");
    write(&db, &[batch("osv", import("osv"))]);
    let before = std::fs::read(&db).expect("read");
    // What a killed update leaves behind.
    let stale = dir.path().join(".advisories.db.tmp-999999");
    std::fs::write(&stale, b"half a database").expect("stale");

    let held = StoreLock::acquire(&db, Duration::ZERO).expect("lock");
    let patient = WriteOptions {
        lock_wait: Duration::from_millis(300),
        ..WriteOptions::default()
    };
    let started = std::time::Instant::now();
    let err = update_store_with(&db, &[batch("kev", import("kev"))], NOW, patient, &mut ok)
        .expect_err("locked");
    assert!(started.elapsed() >= Duration::from_millis(300), "it waited");
    assert!(
        err.to_string()
            .contains("another hvguard holds the store lock"),
        "{err}"
    );
    assert_eq!(std::fs::read(&db).expect("read"), before);
    // State writers wait on the same lock.
    let err = StateStore::open(&db, Duration::from_millis(100)).expect_err("locked");
    assert!(
        err.to_string()
            .contains("another hvguard holds the store lock"),
        "{err}"
    );
    drop(held);

    write(&db, &[batch("kev", import("kev"))]);
    assert!(!stale.exists(), "stale copy removed under the lock");
    assert!(leftovers(dir.path(), &db).is_empty());
}

#[test]
fn a_waiting_writer_goes_on_when_the_lock_is_released() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("advisories.db");
    write(&db, &[batch("osv", import("osv"))]);
    let held = StoreLock::acquire(&db, Duration::ZERO).expect("lock");
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        drop(held);
    });
    let mut state = StateStore::open(&db, Duration::from_secs(10)).expect("waited");
    releaser.join().expect("join");
    let keys = vec![("CVE-2024-3446".to_owned(), "/usr/bin/qemu".to_owned())];
    assert_eq!(
        state
            .record_listed(&scope("unknown"), &keys, NOW)
            .expect("listed"),
        keys
    );
}

#[test]
fn load_advisories_falls_back_to_the_shipped_snapshot_only_without_records() {
    use hvguard_advisory::store::{load_advisories, AdvisoryOrigin};
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("advisories.db");
    let shipped = shipped_snapshot().expect("shipped").len();

    let (list, origin) = load_advisories(&db).expect("no store");
    assert_eq!((list.len(), origin), (shipped, AdvisoryOrigin::Shipped));

    drop(StateStore::open(&db, Duration::ZERO).expect("empty store"));
    let (list, origin) = load_advisories(&db).expect("empty store");
    assert_eq!((list.len(), origin), (shipped, AdvisoryOrigin::Shipped));

    write(&db, &[batch("osv", import("osv"))]);
    let (list, origin) = load_advisories(&db).expect("store");
    assert_eq!((list.len(), origin), (4, AdvisoryOrigin::Store(db.clone())));

    std::fs::write(&db, b"not sqlite at all, just text that is long enough").expect("junk");
    assert!(
        load_advisories(&db).is_err(),
        "a broken store is an error, not a fallback"
    );
}

/// Readers take no lock, so a store being created must never be visible half-made: a reader
/// that sees the file must find a whole store (before the fix, a `--notify` run that created
/// the store let a concurrent `advisories` run read a file without its schema version).
#[test]
fn a_store_being_created_is_never_seen_half_made() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    for round in 0..100 {
        let path = dir.path().join(format!("advisories-{round}.db"));
        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let (path, done) = (path.clone(), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut reads = 0u32;
                while !done.load(Ordering::SeqCst) {
                    if path.exists() {
                        match Store::open_readonly(&path).and_then(|s| s.status()) {
                            Ok(_) => reads += 1,
                            // Renamed away between the two calls cannot happen (the file
                            // only appears); anything else is a half-made store.
                            Err(e) => return Err(format!("round {round}: {e}")),
                        }
                    }
                }
                Ok(reads)
            })
        };
        let store = if round % 2 == 0 {
            Store::open_or_create(&path).map(drop)
        } else {
            // The `--new`/`--notify` state store creates the store too.
            hvguard_advisory::store::StateStore::open(&path, Duration::from_secs(5)).map(drop)
        };
        done.store(true, Ordering::SeqCst);
        store.unwrap();
        reader.join().unwrap().unwrap();
    }
}
