//! Which tables of a store are fleet data (shared by every node) and which are the node's
//! own, decided from the store's schema itself rather than from a list kept here, so that
//! a table added to the schema later is exported without a change to this module.
//!
//! - Fleet data: every table the store's schema creates (`schema::create`), except `seen`.
//! - Node-local: `seen` (what `advisories --new` already reported on this node) and every
//!   table other parts of hvguard add to the store on their own (the update journal,
//!   package-changelog evidence, scan history, ...). An export leaves them out; taking a
//!   snapshot carries the node's own rows over into the new store.

use std::collections::BTreeSet;
use std::path::Path;

use rusqlite::Connection;

use super::super::schema;
use super::error::ExportError;

/// Tables of the store's own schema that hold node-local state.
pub const NODE_LOCAL_SCHEMA_TABLES: &[&str] = &["seen"];

/// The tables a fresh store has, i.e. the ones the store's schema defines.
pub fn schema_tables() -> Result<BTreeSet<String>, ExportError> {
    let memory = Path::new(":memory:");
    let conn = Connection::open_in_memory()
        .map_err(|e| ExportError::sqlite(memory, "opening a scratch database", e))?;
    schema::create(&conn, memory)?;
    tables(&conn, "main", memory)
}

/// The fleet-data tables: the schema's, minus the node-local ones.
pub fn fleet_tables() -> Result<BTreeSet<String>, ExportError> {
    let mut tables = schema_tables()?;
    for t in NODE_LOCAL_SCHEMA_TABLES {
        tables.remove(*t);
    }
    Ok(tables)
}

/// User tables of the database attached as `db` (`main` or an `ATTACH` name).
pub fn tables(conn: &Connection, db: &str, path: &Path) -> Result<BTreeSet<String>, ExportError> {
    let sql = format!(
        "SELECT name FROM \"{db}\".sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
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

/// Removes node-local state from an export copy: tables outside the schema are dropped,
/// node-local schema tables emptied.
pub fn strip_node_local(conn: &Connection, path: &Path) -> Result<(), ExportError> {
    let schema = schema_tables()?;
    for table in tables(conn, "main", path)? {
        if !schema.contains(&table) {
            conn.execute_batch(&format!("DROP TABLE {}", quote(&table)))
                .map_err(|e| ExportError::sqlite(path, "dropping a node-local table", e))?;
        } else if NODE_LOCAL_SCHEMA_TABLES.contains(&table.as_str()) {
            conn.execute_batch(&format!("DELETE FROM {}", quote(&table)))
                .map_err(|e| ExportError::sqlite(path, "emptying a node-local table", e))?;
        }
    }
    Ok(())
}

/// Copies the node-local tables of the store attached as `node` into `main` (the snapshot
/// being taken): tables the snapshot lacks are created as the node has them (with their
/// indexes), node-local schema tables get the node's rows.
pub fn carry_node_local(conn: &Connection, path: &Path) -> Result<Vec<String>, ExportError> {
    let schema = schema_tables()?;
    let snapshot = tables(conn, "main", path)?;
    let mut carried = Vec::new();
    for table in tables(conn, "node", path)? {
        let node_local =
            !schema.contains(&table) || NODE_LOCAL_SCHEMA_TABLES.contains(&table.as_str());
        if !node_local {
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

    #[test]
    fn fleet_tables_are_the_schema_without_seen() {
        let fleet = fleet_tables().unwrap();
        for t in ["meta", "sources", "advisories", "kev", "epss", "distro"] {
            assert!(fleet.contains(t), "{t} missing from {fleet:?}");
        }
        assert!(!fleet.contains("seen"));
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
    }
}
