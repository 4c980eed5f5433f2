//! Export and take at the store's level: the schema an export carries, the upgrade of a
//! node's older store when it takes one, and the store lock both hold.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use super::*;
use crate::store::{history, schema, StoreError, StoreLock, SCHEMA_VERSION};

/// A store as an hvguard of schema 3 left it: one source, one advisory, one `seen` row.
fn store_at_schema_3(path: &Path, imported_at: &str, host: &str) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(schema::CREATE).unwrap();
    conn.execute_batch(schema::V1_TO_V2).unwrap();
    conn.execute_batch(history::schema::TABLES).unwrap();
    let json = serde_json::to_string(&crate::Advisory::new("CVE-2024-0001")).unwrap();
    conn.execute_batch(&format!(
        "INSERT INTO meta VALUES ('schema_version', '3');
         INSERT INTO sources VALUES ('nvd-qemu', 'https://nvd.example/', 'nvd', '{imported_at}', 1, 10, NULL);
         INSERT INTO advisories (id, source, json) VALUES ('CVE-2024-0001', 'nvd-qemu', '{json}');
         INSERT INTO advisory_products (id, product) VALUES ('CVE-2024-0001', 'qemu');
         INSERT INTO seen (host, root, advisory, binary, first_seen, listed)
             VALUES ('{host}', '/', 'CVE-2024-0001', '/usr/bin/qemu', '2026-01-01', 1);"
    ))
    .unwrap();
}

fn schema_of(path: &Path) -> i64 {
    let conn = Connection::open(path).unwrap();
    schema::check(&conn, path).unwrap()
}

fn take_options(now: jiff::Timestamp) -> TakeOptions {
    TakeOptions {
        now,
        max_age: jiff::SignedDuration::from_hours(24),
        lock_wait: Duration::from_secs(5),
    }
}

#[test]
fn an_older_store_is_exported_at_this_schema_and_an_older_node_store_takes_it() {
    let dir = tempfile::tempdir().unwrap();
    let publisher = dir.path().join("publisher.db");
    store_at_schema_3(&publisher, "2026-11-01T00:00:00Z", "publisher");
    let before = std::fs::read(&publisher).unwrap();
    let out = dir.path().join("advisories.hvdb");
    let now = jiff::Timestamp::now();
    let manifest = export_store(&publisher, &out, now, Duration::from_secs(5)).unwrap();
    assert_eq!(manifest.store_schema_version, SCHEMA_VERSION);
    assert_eq!(manifest.counts.advisories, 1);
    // Exporting reads the store; its upgrade is left to the next write.
    assert_eq!(std::fs::read(&publisher).unwrap(), before);
    assert_eq!(schema_of(&publisher), 3);

    let node = dir.path().join("node.db");
    store_at_schema_3(&node, "2020-01-01T00:00:00Z", "node");
    let taken = take_export(&node, &out, "test", &take_options(now)).unwrap();
    let Taken::Replaced { carried, .. } = taken else {
        panic!("{taken:?}");
    };
    assert!(carried.contains(&"seen".to_owned()), "{carried:?}");
    assert_eq!(schema_of(&node), SCHEMA_VERSION);
    let conn = Connection::open(&node).unwrap();
    let seen: Vec<String> = conn
        .prepare("SELECT host FROM seen")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(seen, ["node"], "the node's own rows, never the publisher's");
    // The previous store is kept beside it (upgraded in place first, its rows as they were).
    assert_eq!(
        schema_of(&write::with_suffix(&node, ".bak")),
        SCHEMA_VERSION
    );
}

#[test]
fn export_and_take_wait_for_the_store_lock() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("advisories.db");
    store_at_schema_3(&store, "2026-11-01T00:00:00Z", "publisher");
    let out = dir.path().join("advisories.hvdb");
    let now = jiff::Timestamp::now();
    let held = StoreLock::acquire(&store, Duration::ZERO).unwrap();
    let err = export_store(&store, &out, now, Duration::from_millis(100)).unwrap_err();
    assert!(
        matches!(err, ExportError::Store(StoreError::Locked { .. })),
        "{err}"
    );
    assert!(!out.exists());
    drop(held);
    export_store(&store, &out, now, Duration::ZERO).unwrap();

    let node = dir.path().join("node.db");
    let held = StoreLock::acquire(&node, Duration::ZERO).unwrap();
    let options = TakeOptions {
        lock_wait: Duration::from_millis(100),
        ..take_options(now)
    };
    let err = take_export(&node, &out, "test", &options).unwrap_err();
    assert!(
        matches!(err, ExportError::Store(StoreError::Locked { .. })),
        "{err}"
    );
    assert!(!node.exists());
    drop(held);
    assert!(matches!(
        take_export(&node, &out, "test", &options).unwrap(),
        Taken::Replaced { .. }
    ));
}
