//! The store's tables, and the schema-version gate that keeps an older hvguard from
//! misreading a store a newer one wrote.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

use super::StoreError;

/// The schema this build writes and reads. Bump it on any incompatible table change.
///
/// Version 2 keeps one row per (record, source) in every fact table, so that importing the
/// same records in another order gives the same store (docs/advisory-store.md). Version 1
/// stores are migrated in place on the next import or update.
pub const SCHEMA_VERSION: i64 = 2;

/// Every table. `advisories.json` holds the whole serde [`crate::Advisory`] so that a model
/// field added later needs no migration; `advisory_products` indexes the product names.
/// KEV, EPSS and distro facts live in their own tables and are joined at load time, so a
/// KEV refresh reaches advisories imported before or after it.
const CREATE: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sources (
    name TEXT PRIMARY KEY,
    location TEXT NOT NULL,
    format TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    records INTEGER NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT
);
CREATE TABLE seen (
    advisory TEXT NOT NULL, binary TEXT NOT NULL, first_seen TEXT NOT NULL,
    PRIMARY KEY (advisory, binary)
);
";

/// The tables keyed by record and source (schema 2).
const FACT_TABLES: &str = "
CREATE TABLE advisories (
    id TEXT NOT NULL, source TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (id, source)
);
CREATE INDEX advisories_source ON advisories(source);
CREATE TABLE advisory_products (
    id TEXT NOT NULL, product TEXT NOT NULL, source TEXT NOT NULL,
    PRIMARY KEY (id, product, source)
);
CREATE INDEX advisory_products_product ON advisory_products(product);
CREATE TABLE kev (
    cve TEXT NOT NULL, source TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (cve, source)
);
CREATE TABLE epss (
    cve TEXT NOT NULL, source TEXT NOT NULL, epss REAL NOT NULL, percentile REAL NOT NULL,
    PRIMARY KEY (cve, source)
);
CREATE TABLE distro (
    id TEXT NOT NULL, distro TEXT NOT NULL, release TEXT NOT NULL, package TEXT NOT NULL,
    source TEXT NOT NULL, json TEXT NOT NULL,
    PRIMARY KEY (id, distro, release, package, source)
);
";

/// Moves a schema 1 store (one row per record id: the last import won) to schema 2. Every
/// row is kept under the source that wrote it.
const MIGRATE_1_TO_2: &str = "
DROP INDEX IF EXISTS advisories_source;
DROP INDEX IF EXISTS advisory_products_product;
ALTER TABLE advisories RENAME TO advisories_v1;
ALTER TABLE advisory_products RENAME TO advisory_products_v1;
ALTER TABLE kev RENAME TO kev_v1;
ALTER TABLE epss RENAME TO epss_v1;
ALTER TABLE distro RENAME TO distro_v1;
";

const COPY_1_TO_2: &str = "
INSERT INTO advisories (id, source, json) SELECT id, source, json FROM advisories_v1;
INSERT OR IGNORE INTO advisory_products (id, product, source)
    SELECT p.id, p.product, a.source FROM advisory_products_v1 p
    JOIN advisories_v1 a ON a.id = p.id;
INSERT INTO kev (cve, source, json) SELECT cve, source, json FROM kev_v1;
INSERT INTO epss (cve, source, epss, percentile) SELECT cve, source, epss, percentile FROM epss_v1;
INSERT INTO distro (id, distro, release, package, source, json)
    SELECT id, distro, release, package, source, json FROM distro_v1;
DROP TABLE advisories_v1;
DROP TABLE advisory_products_v1;
DROP TABLE kev_v1;
DROP TABLE epss_v1;
DROP TABLE distro_v1;
UPDATE meta SET value = '2' WHERE key = 'schema_version';
";

/// Brings a store this build can read up to [`SCHEMA_VERSION`], in one transaction.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    if check(conn, path)? >= SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn
        .transaction()
        .map_err(|e| StoreError::sqlite(path, "starting the schema migration", e))?;
    let script = format!("{MIGRATE_1_TO_2}{FACT_TABLES}{COPY_1_TO_2}");
    tx.execute_batch(&script)
        .map_err(|e| StoreError::sqlite(path, "migrating the store from schema 1 to 2", e))?;
    tx.commit()
        .map_err(|e| StoreError::sqlite(path, "committing the schema migration", e))
}

/// Creates every table in an empty database and records the schema version.
pub(crate) fn create(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    conn.execute_batch(&format!("{CREATE}{FACT_TABLES}"))
        .map_err(|e| StoreError::sqlite(path, "creating the tables", e))?;
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)",
        [SCHEMA_VERSION.to_string()],
    )
    .map_err(|e| StoreError::sqlite(path, "recording the schema version", e))?;
    Ok(())
}

/// Reads the schema version and refuses any this build does not understand.
pub(crate) fn check(conn: &Connection, path: &Path) -> Result<i64, StoreError> {
    let has_meta: Option<String> = conn
        .query_row(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
            [],
            |row| row.get(0),
        )
        .optional()
        .map_err(|e| not_a_store(path, e))?;
    if has_meta.is_none() {
        return Err(StoreError::NotAStore {
            path: path.to_path_buf(),
            reason: "no meta table".into(),
        });
    }
    let text: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .optional()
        .map_err(|e| not_a_store(path, e))?;
    let Some(text) = text else {
        return Err(StoreError::NotAStore {
            path: path.to_path_buf(),
            reason: "no schema_version in the meta table".into(),
        });
    };
    let found: i64 = text.trim().parse().map_err(|_| StoreError::NotAStore {
        path: path.to_path_buf(),
        reason: format!("schema_version {text:?} is not a number"),
    })?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found < 1 {
        return Err(StoreError::NotAStore {
            path: path.to_path_buf(),
            reason: format!("schema_version {found} was never written by hvguard"),
        });
    }
    Ok(found)
}

/// SQLite says "file is not a database" (and similar) on the first query of a junk file.
fn not_a_store(path: &Path, e: rusqlite::Error) -> StoreError {
    StoreError::NotAStore {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}
