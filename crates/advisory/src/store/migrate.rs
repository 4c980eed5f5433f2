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
}
