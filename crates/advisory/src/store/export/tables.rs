//! Which tables of a store are fleet data (the same on every node, shipped by `db export`)
//! and which are the node's own (never exported, kept when a node takes a snapshot).
//!
//! The classification is an explicit list, by schema step:
//!
//! - schema 1 and step 4 (per-source fact tables): `meta`, `sources`, `advisories`,
//!   `advisory_products`, `kev`, `epss`, `distro` are fleet data;
//! - step 2: `seen` (what `advisories --new/--notify` listed or sent for this host) is
//!   node-local;
//! - step 3: the scan history, the approved baseline and the digest cache
//!   (`history_blobs`, `history_records`, `history_baseline`, `digest_cache`) are node-local;
//! - tables other parts of hvguard create on first use: the update journal (`update_*`,
//!   crates/update) and the package-changelog evidence `hvguard update status` read from this
//!   node's candidate packages are node-local.
//!
//! A table in neither list is treated as node-local (left out of exports, kept by the node):
//! shipping data nobody classified to a thousand nodes is the worse mistake. A unit test fails
//! as soon as the store's schema has a table in neither list, so a new table must be
//! classified when it is added.

use std::collections::BTreeSet;
use std::path::Path;

use rusqlite::Connection;

use super::super::schema;
use super::error::ExportError;

/// Tables every node shares: the advisory feeds and their facts, and `meta` (the schema
/// version, and the identity of the export the content is).
pub const FLEET_TABLES: &[&str] = &[
    "meta",
    "sources",
    "advisories",
    "advisory_products",
    "kev",
    "epss",
    "distro",
];

/// Tables that describe this node only.
pub const NODE_LOCAL_TABLES: &[&str] = &[
    // Step 2: advisories --new/--notify state, keyed by host and root.
    "seen",
    // Step 3: scan history, baseline, digest cache.
    "history_blobs",
    "history_records",
    "history_baseline",
    "digest_cache",
    // Created on first use by `hvguard update` (crates/update/src/journal.rs).
    "update_transactions",
    "update_components",
    "update_stages",
    "update_artifacts",
    // Created on first use by `hvguard update status` (store/evidence.rs).
    "package_changelog_evidence",
];

/// How a table is treated by exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableClass {
    /// Exported; replaced by the snapshot when a node takes one.
    Fleet,
    /// Never exported; kept when a node takes a snapshot.
    NodeLocal,
    /// In neither list: treated as node-local.
    Unclassified,
}

/// The class of `table`.
pub fn classify(table: &str) -> TableClass {
    if FLEET_TABLES.contains(&table) {
        TableClass::Fleet
    } else if NODE_LOCAL_TABLES.contains(&table) {
        TableClass::NodeLocal
    } else {
        TableClass::Unclassified
    }
}

/// The tables a fresh store of this build has (schema 1 plus every upgrade step).
pub fn schema_tables() -> Result<BTreeSet<String>, ExportError> {
    let memory = Path::new(":memory:");
    let conn = Connection::open_in_memory()
        .map_err(|e| ExportError::sqlite(memory, "opening a scratch database", e))?;
    schema::create(&conn, memory)?;
    tables(&conn, "main", memory)
}

/// User tables of the database attached as `db` (`main` or an `ATTACH` name).
pub fn tables(conn: &Connection, db: &str, path: &Path) -> Result<BTreeSet<String>, ExportError> {
    let sql = format!(
        "SELECT name FROM {}.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        quote(db)
    );
    let mut stmt = conn
        .prepare(&sql)
        .map_err(|e| ExportError::sqlite(path, "listing tables", e))?;
    let names = stmt
        .query_map([], |row| row.get::<_, String>(0))
        .map_err(|e| ExportError::sqlite(path, "listing tables", e))?
        .collect::<Result<BTreeSet<_>, _>>()
        .map_err(|e| ExportError::sqlite(path, "listing tables", e))?;
    Ok(names)
}

/// Quotes an SQL identifier (table names come from `sqlite_master`, never from input).
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Removes node-local state from an export copy. Node-local tables of the schema are
/// emptied, not dropped, so that the copy is a whole store of its schema version (a node
/// without a store takes it as it is); every other table that is not fleet data is dropped.
pub fn strip_node_local(conn: &Connection, path: &Path) -> Result<(), ExportError> {
    let schema = schema_tables()?;
    for table in tables(conn, "main", path)? {
        if classify(&table) == TableClass::Fleet {
            continue;
        }
        if schema.contains(&table) {
            conn.execute_batch(&format!("DELETE FROM {}", quote(&table)))
                .map_err(|e| ExportError::sqlite(path, "emptying a node-local table", e))?;
        } else {
            conn.execute_batch(&format!("DROP TABLE {}", quote(&table)))
                .map_err(|e| ExportError::sqlite(path, "dropping a node-local table", e))?;
        }
    }
    Ok(())
}

/// Copies the node-local tables of the store attached as `node` into `main` (the snapshot
/// being taken): tables the snapshot lacks are created as the node has them (with their
/// indexes), tables it has (emptied by the export) get the node's rows. Both stores are at
/// the same schema version (the caller upgrades the node's store first), so their node-local
/// tables have the same columns in the same order.
pub fn carry_node_local(conn: &Connection, path: &Path) -> Result<Vec<String>, ExportError> {
    let snapshot = tables(conn, "main", path)?;
    let mut carried = Vec::new();
    for table in tables(conn, "node", path)? {
        if classify(&table) == TableClass::Fleet {
            continue;
        }
        let q = quote(&table);
        if snapshot.contains(&table) {
            conn.execute_batch(&format!("DELETE FROM main.{q}"))
                .map_err(|e| ExportError::sqlite(path, "replacing node-local rows", e))?;
        } else {
            for sql in definitions(conn, &table, path)? {
                conn.execute_batch(&sql)
                    .map_err(|e| ExportError::sqlite(path, "recreating a node-local table", e))?;
            }
        }
        conn.execute_batch(&format!("INSERT INTO main.{q} SELECT * FROM node.{q}"))
            .map_err(|e| ExportError::sqlite(path, "carrying node-local rows over", e))?;
        carried.push(table);
    }
    Ok(carried)
}

/// `CREATE TABLE` and `CREATE INDEX` statements of `table` in the `node` database, table
/// first (automatic indexes have no SQL and come back with the table).
fn definitions(conn: &Connection, table: &str, path: &Path) -> Result<Vec<String>, ExportError> {
    let mut stmt = conn
        .prepare(
            "SELECT sql FROM node.sqlite_master
             WHERE tbl_name = ?1 AND sql IS NOT NULL AND type IN ('table', 'index')
             ORDER BY type = 'index', name",
        )
        .map_err(|e| ExportError::sqlite(path, "reading a table definition", e))?;
    let sqls = stmt
        .query_map([table], |row| row.get::<_, String>(0))
        .map_err(|e| ExportError::sqlite(path, "reading a table definition", e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ExportError::sqlite(path, "reading a table definition", e))?;
    Ok(sqls)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// The guard of the classification: a table added to the schema (a new upgrade step, a
    /// new table in an existing one) fails this test until it is put in one of the lists.
    #[test]
    fn every_table_of_the_schema_is_classified() {
        let unclassified: Vec<String> = schema_tables()
            .unwrap()
            .into_iter()
            .filter(|t| classify(t) == TableClass::Unclassified)
            .collect();
        assert!(
            unclassified.is_empty(),
            "tables of the store schema in neither FLEET_TABLES nor NODE_LOCAL_TABLES \
             (store/export/tables.rs): {unclassified:?}; decide whether each is fleet data \
             (exported to every node) or node-local"
        );
    }

    /// The tables created on first use (not by the schema) are classified too.
    #[test]
    fn first_use_tables_are_classified() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("advisories.db");
        let mut store = crate::store::Store::open_or_create(&path).unwrap();
        // Creates `package_changelog_evidence`; the update journal's tables are checked by
        // crates/update (journal.rs), which creates them.
        store
            .record_changelog_evidence(&[], "2026-01-01T00:00:00Z")
            .unwrap();
        drop(store);
        let conn = Connection::open(&path).unwrap();
        let unclassified: Vec<String> = tables(&conn, "main", &path)
            .unwrap()
            .into_iter()
            .filter(|t| classify(t) == TableClass::Unclassified)
            .collect();
        assert!(unclassified.is_empty(), "{unclassified:?}");
        assert!(tables(&conn, "main", &path)
            .unwrap()
            .contains("package_changelog_evidence"));
    }

    #[test]
    fn the_lists_are_disjoint_and_fleet_tables_exist() {
        let schema = schema_tables().unwrap();
        for t in FLEET_TABLES {
            assert!(!NODE_LOCAL_TABLES.contains(t), "{t} is in both lists");
            // A fleet table the schema no longer has is a stale entry.
            assert!(schema.contains(*t), "{t} is not a table of the schema");
        }
        assert_eq!(classify("seen"), TableClass::NodeLocal);
        assert_eq!(classify("history_records"), TableClass::NodeLocal);
        assert_eq!(classify("advisories"), TableClass::Fleet);
        assert_eq!(classify("something_new"), TableClass::Unclassified);
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
    }
}
