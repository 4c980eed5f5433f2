//! In-place upgrades of stores written by an older hvguard.
//!
//! Each step adds what one schema version brought. An upgrade runs every missing step and the
//! version bump in one `IMMEDIATE` transaction: a crash or a concurrent writer leaves the store
//! at its old version, whole, never half-upgraded. Older stores are only ever upgraded when
//! hvguard is about to write to them; reading leaves them as they are.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::{history, schema, StoreError, SCHEMA_VERSION};

/// The SQL that takes a store from version `to - 1` to `to`.
struct Step {
    to: i64,
    sql: &'static str,
}

const STEPS: &[Step] = &[
    Step {
        to: 2,
        sql: schema::V1_TO_V2,
    },
    Step {
        to: 3,
        sql: history::schema::TABLES,
    },
    Step {
        to: 4,
        sql: schema::V3_TO_V4,
    },
];

/// Creates the tables of every step, for a store created fresh at [`SCHEMA_VERSION`].
pub(crate) fn create_later_tables(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    for step in STEPS {
        conn.execute_batch(step.sql)
            .map_err(|e| StoreError::sqlite(path, "creating the tables", e))?;
    }
    Ok(())
}

/// Brings the store at `path` to [`SCHEMA_VERSION`]; returns the version it had.
pub(crate) fn upgrade(conn: &mut Connection, path: &Path) -> Result<i64, StoreError> {
    let before = schema::check(conn, path)?;
    if before >= SCHEMA_VERSION {
        return Ok(before);
    }
    let sql = |what: &'static str| move |e| StoreError::sqlite(path, what, e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql("starting the store upgrade"))?;
    // Read again under the write lock: another hvguard may have upgraded it meanwhile.
    let found = schema::check(&tx, path)?;
    for step in STEPS.iter().filter(|s| s.to > found) {
        tx.execute_batch(step.sql).map_err(|e| {
            StoreError::sqlite(
                path,
                format!("upgrading the store from schema {found} to {}", step.to),
                e,
            )
        })?;
    }
    tx.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
        [SCHEMA_VERSION.to_string()],
    )
    .map_err(sql("recording the new schema version"))?;
    tx.commit().map_err(sql("committing the store upgrade"))?;
    Ok(before)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_in_order_and_reach_the_current_version() {
        let tos: Vec<i64> = STEPS.iter().map(|s| s.to).collect();
        let expected: Vec<i64> = (2..=SCHEMA_VERSION).collect();
        assert_eq!(tos, expected);
    }

    #[test]
    fn a_failed_step_leaves_the_old_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO meta VALUES ('schema_version', '1');
             CREATE TABLE history_records (x);",
        )
        .unwrap();
        // The step's CREATE TABLE history_records collides: nothing of the step may remain.
        assert!(upgrade(&mut conn, &path).is_err());
        assert_eq!(schema::check(&conn, &path).unwrap(), 1);
        let blobs: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'history_blobs'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(blobs, 0);
    }

    /// A store as an hvguard of schema `version` left it, holding one record of each fact
    /// table (their shape did not change before version 4) and one `seen` row.
    fn store_at(path: &Path, version: i64) -> Connection {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(schema::CREATE).unwrap();
        for step in STEPS.iter().filter(|s| s.to <= version) {
            conn.execute_batch(step.sql).unwrap();
        }
        let json = serde_json::to_string(&crate::Advisory::new("CVE-2024-0001")).unwrap();
        conn.execute_batch(&format!(
            "INSERT INTO meta VALUES ('schema_version', '{version}');
             INSERT INTO advisories (id, source, json) VALUES ('CVE-2024-0001', 'nvd-qemu', '{json}');
             INSERT INTO advisory_products (id, product) VALUES ('CVE-2024-0001', 'qemu');
             INSERT INTO kev (cve, source, json) VALUES ('CVE-2024-0001', 'kev', '{{}}');
             INSERT INTO epss (cve, source, epss, percentile) VALUES ('CVE-2024-0001', 'epss', 0.5, 0.9);
             INSERT INTO distro (id, distro, release, package, source, json)
                 VALUES ('CVE-2024-0001', 'debian', 'bookworm', 'qemu', 'debian-tracker', '{{}}');"
        ))
        .unwrap();
        let seen = if version >= 2 {
            "INSERT INTO seen (host, root, advisory, binary, first_seen, listed)
                 VALUES ('h', '/', 'CVE-2024-0001', '/usr/bin/qemu', '2026-01-01', 1)"
        } else {
            "INSERT INTO seen VALUES ('CVE-2024-0001', '/usr/bin/qemu', '2026-01-01')"
        };
        conn.execute_batch(seen).unwrap();
        conn
    }

    #[test]
    fn every_older_version_upgrades_and_keeps_its_rows_under_their_source() {
        for version in 1..SCHEMA_VERSION {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("s.db");
            let mut conn = store_at(&path, version);
            assert_eq!(upgrade(&mut conn, &path).unwrap(), version);
            assert_eq!(schema::check(&conn, &path).unwrap(), SCHEMA_VERSION);
            let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
            // Every fact row is kept, under the source that wrote it.
            assert_eq!(
                count("SELECT COUNT(*) FROM advisories WHERE source = 'nvd-qemu'"),
                1
            );
            assert_eq!(
                count("SELECT COUNT(*) FROM advisory_products WHERE source = 'nvd-qemu'"),
                1,
                "the product row takes its advisory's source (from version {version})"
            );
            assert_eq!(count("SELECT COUNT(*) FROM kev WHERE source = 'kev'"), 1);
            assert_eq!(count("SELECT COUNT(*) FROM epss WHERE source = 'epss'"), 1);
            assert_eq!(
                count("SELECT COUNT(*) FROM distro WHERE source = 'debian-tracker'"),
                1
            );
            assert_eq!(count("SELECT COUNT(*) FROM seen"), 1);
            assert_eq!(count("SELECT COUNT(*) FROM history_records"), 0);
            // A second source's record of the same id now lives beside the first.
            conn.execute(
                "INSERT INTO advisories (id, source, json)
                 SELECT id, 'osv', json FROM advisories WHERE source = 'nvd-qemu'",
                [],
            )
            .unwrap();
            assert_eq!(count("SELECT COUNT(*) FROM advisories"), 2);
            // What a fresh store of this build has, an upgraded one has too.
            let tables = |conn: &Connection| -> Vec<String> {
                let mut stmt = conn
                    .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
                    .unwrap();
                let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
                rows.map(|r| r.unwrap().split_whitespace().collect::<Vec<_>>().join(" "))
                    .collect()
            };
            let fresh_path = dir.path().join("fresh.db");
            let fresh = Connection::open(&fresh_path).unwrap();
            schema::create(&fresh, &fresh_path).unwrap();
            assert_eq!(tables(&conn), tables(&fresh), "from version {version}");
        }
    }
}
