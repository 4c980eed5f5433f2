//! The store's tables, and the schema-version gate that keeps an older hvguard from
//! misreading a store a newer one wrote.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

use super::StoreError;

/// The schema this build writes and reads. Bump it on any incompatible table change, with an
/// upgrade step in `migrate.rs`:
///
/// - 1: the first store.
/// - 2: `seen` is keyed by host identity and root as well, and records whether each
///   finding was listed by `advisories --new` and when it was delivered to a webhook.
/// - 3: history, baseline and digest-cache tables.
/// - 4: one row per (record, source) in every fact table, so that importing the same
///   records in another order gives the same store (docs/advisory-store.md).
pub const SCHEMA_VERSION: i64 = 4;

/// The tables of schema version 1 (later versions add or reshape theirs through the steps of
/// `migrate.rs`, on a fresh store too, so fresh and upgraded stores are alike).
/// `advisories.json` holds the whole serde [`crate::Advisory`] so that a model field added
/// later needs no migration; `advisory_products` indexes the product names.
/// KEV, EPSS and distro facts live in their own tables and are joined at load time, so a
/// KEV refresh reaches advisories imported before or after it.
pub(crate) const CREATE: &str = "
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
CREATE TABLE advisories (id TEXT PRIMARY KEY, source TEXT NOT NULL, json TEXT NOT NULL);
CREATE INDEX advisories_source ON advisories(source);
CREATE TABLE advisory_products (
    id TEXT NOT NULL, product TEXT NOT NULL, PRIMARY KEY (id, product)
);
CREATE INDEX advisory_products_product ON advisory_products(product);
CREATE TABLE kev (cve TEXT PRIMARY KEY, source TEXT NOT NULL, json TEXT NOT NULL);
CREATE TABLE epss (
    cve TEXT PRIMARY KEY, source TEXT NOT NULL, epss REAL NOT NULL, percentile REAL NOT NULL
);
CREATE TABLE distro (
    id TEXT NOT NULL, distro TEXT NOT NULL, release TEXT NOT NULL, package TEXT NOT NULL,
    source TEXT NOT NULL, json TEXT NOT NULL,
    PRIMARY KEY (id, distro, release, package)
);
CREATE TABLE seen (
    advisory TEXT NOT NULL, binary TEXT NOT NULL, first_seen TEXT NOT NULL,
    PRIMARY KEY (advisory, binary)
);
";

/// Version 1 to 2. Version 1 rows were marked before anything was shown or sent and did
/// not say for which host, so they move to the empty (legacy) scope as listed and
/// delivered; the first host that records state adopts them (see `state.rs`).
pub(crate) const V1_TO_V2: &str = "
CREATE TABLE seen_v2 (
    host TEXT NOT NULL, root TEXT NOT NULL, advisory TEXT NOT NULL, binary TEXT NOT NULL,
    first_seen TEXT NOT NULL, listed INTEGER NOT NULL DEFAULT 0, notified_at TEXT,
    PRIMARY KEY (host, root, advisory, binary)
);
INSERT INTO seen_v2 (host, root, advisory, binary, first_seen, listed, notified_at)
    SELECT '', '', advisory, binary, first_seen, 1, first_seen FROM seen;
DROP TABLE seen;
ALTER TABLE seen_v2 RENAME TO seen;
";

/// Version 3 to 4: every fact table keyed by (record, source), so that a later import never
/// overwrites what another source said. A version 3 row (one per record id: the last import
/// won) is kept under the source that wrote it; the product index learns that source from
/// the advisory row of its id.
pub(crate) const V3_TO_V4: &str = "
DROP INDEX IF EXISTS advisories_source;
DROP INDEX IF EXISTS advisory_products_product;
ALTER TABLE advisories RENAME TO advisories_v3;
ALTER TABLE advisory_products RENAME TO advisory_products_v3;
ALTER TABLE kev RENAME TO kev_v3;
ALTER TABLE epss RENAME TO epss_v3;
ALTER TABLE distro RENAME TO distro_v3;
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
INSERT INTO advisories (id, source, json) SELECT id, source, json FROM advisories_v3;
INSERT OR IGNORE INTO advisory_products (id, product, source)
    SELECT p.id, p.product, a.source FROM advisory_products_v3 p
    JOIN advisories_v3 a ON a.id = p.id;
INSERT INTO kev (cve, source, json) SELECT cve, source, json FROM kev_v3;
INSERT INTO epss (cve, source, epss, percentile) SELECT cve, source, epss, percentile FROM epss_v3;
INSERT INTO distro (id, distro, release, package, source, json)
    SELECT id, distro, release, package, source, json FROM distro_v3;
DROP TABLE advisories_v3;
DROP TABLE advisory_products_v3;
DROP TABLE kev_v3;
DROP TABLE epss_v3;
DROP TABLE distro_v3;
";

/// Creates every table in an empty database and records the schema version.
pub(crate) fn create(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    conn.execute_batch(CREATE)
        .map_err(|e| StoreError::sqlite(path, "creating the tables", e))?;
    super::migrate::create_later_tables(conn, path)?;
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
