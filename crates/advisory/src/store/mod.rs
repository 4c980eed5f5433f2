//! The local advisory store: one SQLite file (see `docs/advisory-store.md`), read by `scan`
//! and `advisories`, replaced atomically by `db import` and `db update`.

mod error;
mod evidence;
pub mod export;
pub mod history;
mod location;
mod lock;
mod migrate;
mod schema;
mod state;
mod update;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

pub use error::StoreError;
pub use evidence::{apply_changelog_evidence, ChangelogEvidence};
pub use location::{store_path, store_path_for, SYSTEM_STORE};
pub use lock::StoreLock;
pub use schema::SCHEMA_VERSION;
pub use state::{PendingAlert, SeenKey, StateScope, StateStore};
pub use update::{
    update_store, update_store_with, ImportBatch, Progress, SourceInfo, UpdateSummary, WriteOptions,
};

use crate::model::{Advisory, DistroAdvisory, DistroFix, EpssScore, KevEntry};

/// An open store.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    conn: Connection,
}

/// One imported source as the store records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceStatus {
    /// The source's name (`nvd-qemu`, or the path given to `db import`).
    pub name: String,
    /// The URL or file it came from.
    pub location: String,
    /// The feed format(s) it held.
    pub format: String,
    /// When it was imported (RFC 3339).
    pub imported_at: String,
    /// Records (advisories and facts) it contributed.
    pub records: u64,
    /// Bytes read.
    pub size: u64,
    /// SHA-256 of the bytes, when known.
    pub sha256: Option<String>,
}

/// What `hvguard db status` shows.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoreStatus {
    /// The store file.
    pub path: PathBuf,
    /// The schema version it was written with.
    pub schema_version: i64,
    /// Imported sources, by name.
    pub sources: Vec<SourceStatus>,
    /// Advisories stored.
    pub advisories: u64,
    /// Advisories per product name.
    pub per_product: BTreeMap<String, u64>,
    /// KEV entries stored.
    pub kev: u64,
    /// EPSS scores stored.
    pub epss: u64,
    /// Distro verdicts stored.
    pub distro: u64,
    /// (host, root, advisory, binary) entries remembered by `advisories --new`/`--notify`.
    pub seen: u64,
}

impl Store {
    /// Opens an existing store for reading. The file is opened read-only, so reading never
    /// changes it; a missing file, a junk file or a newer schema is an error naming it.
    pub fn open_readonly(path: &Path) -> Result<Store, StoreError> {
        if !path.is_file() {
            return Err(StoreError::io(
                path,
                "opening the advisory store",
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            ));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::sqlite(path, "opening the advisory store", e))?;
        schema::check(&conn, path)?;
        Ok(Store {
            path: path.to_path_buf(),
            conn,
        })
    }

    /// Opens the store at `path` for writing in place, creating it (and its folder) when
    /// missing and upgrading an older schema, under the store lock.
    pub fn open_or_create(path: &Path) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::io(parent, "creating the store folder", e))?;
        }
        let _lock = lock::StoreLock::acquire(path, journal_lock_wait())?;
        let conn = Self::open_locked(path)?;
        Ok(Store {
            path: path.to_path_buf(),
            conn,
        })
    }

    /// Opens a read-write connection; the caller holds the store lock, so no update can
    /// rename a new file over the store while the schema is created or upgraded.
    fn open_locked(path: &Path) -> Result<Connection, StoreError> {
        if !path.exists() {
            create_whole(path)?;
        }
        let mut conn = Connection::open(path)
            .map_err(|e| StoreError::sqlite(path, "opening the advisory store", e))?;
        migrate::upgrade(&mut conn, path)?;
        Ok(conn)
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `write` in one SQLite transaction while holding the store's update lock (waiting
    /// up to `wait` for a running `db update`), so that rows written in place are never lost
    /// to an update that copied the store before them. Other crates keep their own tables in
    /// the store this way (the update journal); each creates its tables with
    /// `CREATE TABLE IF NOT EXISTS` inside `write`.
    pub fn write_locked<T>(
        &mut self,
        wait: std::time::Duration,
        write: impl FnOnce(&rusqlite::Transaction<'_>, &Path) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _lock = lock::StoreLock::acquire(&self.path, wait)?;
        let path = self.path.clone();
        // A `db update` may have renamed a new file over the store since this connection was
        // opened; writing through the old one would land in the replaced file and be lost.
        self.conn = Self::open_locked(&path)?;
        let tx = self
            .conn
            .transaction()
            .map_err(|e| StoreError::sqlite(&path, "starting a transaction", e))?;
        let out = write(&tx, &path)?;
        tx.commit()
            .map_err(|e| StoreError::sqlite(&path, "committing", e))?;
        Ok(out)
    }

    /// The open connection, for reading tables other crates keep in the store.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Every stored advisory, sorted by id: the records of all its sources merged
    /// (`crate::merge`), with the stored KEV, EPSS and distro facts joined onto it.
    pub fn advisories(&self) -> Result<Vec<Advisory>, StoreError> {
        let records: Vec<(String, Advisory)> =
            self.sourced_rows("SELECT id, source, json FROM advisories ORDER BY id, source")?;
        let mut by_id: BTreeMap<String, Vec<(String, Advisory)>> = BTreeMap::new();
        for (source, adv) in records {
            by_id.entry(adv.id.clone()).or_default().push((source, adv));
        }
        let mut advisories: Vec<Advisory> = by_id
            .into_values()
            .filter_map(crate::merge::merge_records)
            .collect();
        self.apply_stored_facts(&mut advisories)?;
        Ok(advisories)
    }

    /// Joins the stored KEV, EPSS and distro facts onto `advisories` (stored or shipped).
    pub fn apply_stored_facts(&self, advisories: &mut [Advisory]) -> Result<(), StoreError> {
        // Several sources may flag one CVE: the first source by name, whatever the order
        // of the imports.
        let mut kev: BTreeMap<String, KevEntry> = BTreeMap::new();
        for (_, k) in
            self.sourced_rows::<KevEntry>("SELECT cve, source, json FROM kev ORDER BY cve, source")?
        {
            kev.entry(k.cve.clone()).or_insert(k);
        }
        let epss = self.epss()?;
        let distro: Vec<DistroAdvisory> =
            self.rows("SELECT id, json FROM distro ORDER BY id, distro, release, package, source")?;
        crate::apply_facts(advisories, &kev, &epss, &distro);
        Ok(())
    }

    fn epss(&self) -> Result<BTreeMap<String, EpssScore>, StoreError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare("SELECT cve, epss, percentile FROM epss ORDER BY cve, source")
            .map_err(|e| StoreError::sqlite(path, "reading EPSS scores", e))?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    EpssScore {
                        epss: row.get(1)?,
                        percentile: row.get(2)?,
                    },
                ))
            })
            .map_err(|e| StoreError::sqlite(path, "reading EPSS scores", e))?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (cve, score) =
                row.map_err(|e| StoreError::sqlite(path, "reading EPSS scores", e))?;
            out.entry(cve).or_insert(score);
        }
        Ok(out)
    }

    /// Runs a `SELECT key, source, json` query: every json column with its source.
    fn sourced_rows<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
    ) -> Result<Vec<(String, T)>, StoreError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare(sql)
            .map_err(|e| StoreError::sqlite(path, "reading records", e))?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })
            .map_err(|e| StoreError::sqlite(path, "reading records", e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, source, json) =
                row.map_err(|e| StoreError::sqlite(path, "reading records", e))?;
            let value = serde_json::from_str(&json).map_err(|e| StoreError::Record {
                path: path.clone(),
                id,
                message: e.to_string(),
            })?;
            out.push((source, value));
        }
        Ok(out)
    }

    /// Runs a `SELECT key, json` query and deserializes every json column.
    fn rows<T: serde::de::DeserializeOwned>(&self, sql: &str) -> Result<Vec<T>, StoreError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare(sql)
            .map_err(|e| StoreError::sqlite(path, "reading records", e))?;
        let rows = stmt
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })
            .map_err(|e| StoreError::sqlite(path, "reading records", e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, json) = row.map_err(|e| StoreError::sqlite(path, "reading records", e))?;
            let value = serde_json::from_str(&json).map_err(|e| StoreError::Record {
                path: path.clone(),
                id,
                message: e.to_string(),
            })?;
            out.push(value);
        }
        Ok(out)
    }

    fn count(&self, sql: &str) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row(sql, [], |row| row.get(0))
            .map_err(|e| StoreError::sqlite(&self.path, "counting records", e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Sources, record counts per source and product, and fact counts.
    pub fn status(&self) -> Result<StoreStatus, StoreError> {
        let path = &self.path;
        let schema_version = schema::check(&self.conn, path)?;
        let sql_err = |e| StoreError::sqlite(path, "reading the store status", e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT name, location, format, imported_at, records, size, sha256
                 FROM sources ORDER BY name",
            )
            .map_err(sql_err)?;
        let sources = stmt
            .query_map([], |row| {
                Ok(SourceStatus {
                    name: row.get(0)?,
                    location: row.get(1)?,
                    format: row.get(2)?,
                    imported_at: row.get(3)?,
                    records: u64::try_from(row.get::<_, i64>(4)?).unwrap_or(0),
                    size: u64::try_from(row.get::<_, i64>(5)?).unwrap_or(0),
                    sha256: row.get(6)?,
                })
            })
            .map_err(sql_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sql_err)?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT product, COUNT(DISTINCT id) FROM advisory_products GROUP BY product ORDER BY product",
            )
            .map_err(sql_err)?;
        let per_product = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
                ))
            })
            .map_err(sql_err)?
            .collect::<Result<BTreeMap<_, _>, _>>()
            .map_err(sql_err)?;
        Ok(StoreStatus {
            path: path.clone(),
            schema_version,
            sources,
            advisories: self.count("SELECT COUNT(DISTINCT id) FROM advisories")?,
            per_product,
            kev: self.count("SELECT COUNT(*) FROM kev")?,
            epss: self.count("SELECT COUNT(*) FROM epss")?,
            distro: self.count("SELECT COUNT(*) FROM distro")?,
            seen: self.count("SELECT COUNT(*) FROM seen")?,
        })
    }
}

/// Creates a fresh store beside `path` and renames it into place. Readers take no lock: they
/// must see no store or a whole one, never a file whose tables are still being created.
/// The caller holds the store lock (the scratch name is `db update`'s, cleaned the same way).
fn create_whole(path: &Path) -> Result<(), StoreError> {
    let temp = update::temp_path(path);
    update::remove_temp(&temp);
    let result = (|| {
        let mut conn = Connection::open(&temp)
            .map_err(|e| StoreError::sqlite(&temp, "creating the advisory store", e))?;
        let tx = conn
            .transaction()
            .map_err(|e| StoreError::sqlite(&temp, "creating the advisory store", e))?;
        schema::create(&tx, &temp)?;
        tx.commit()
            .map_err(|e| StoreError::sqlite(&temp, "creating the advisory store", e))?;
        drop(conn);
        std::fs::File::open(&temp)
            .and_then(|f| f.sync_all())
            .map_err(|e| StoreError::io(&temp, "flushing the new store", e))?;
        std::fs::rename(&temp, path)
            .map_err(|e| StoreError::io(path, "putting the new store in place", e))
    })();
    if result.is_err() {
        update::remove_temp(&temp);
    }
    result
}

/// Where the advisories a command matches came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdvisoryOrigin {
    /// The store at this path.
    Store(PathBuf),
    /// The snapshot shipped in the binary (no store, or an empty one).
    Shipped,
}

/// The advisories to match: the store's when it exists and holds any, else the shipped
/// snapshot. A store that exists but cannot be read (junk, newer schema) is an error, never
/// a silent fallback: the operator asked for that store.
///
/// Package-changelog evidence recorded by `hvguard update status` is joined in either case:
/// a store holding only that evidence still uses the shipped advisories.
pub fn load_advisories(path: &Path) -> Result<(Vec<Advisory>, AdvisoryOrigin), StoreError> {
    if path.exists() {
        let store = Store::open_readonly(path)?;
        let mut advisories = store.advisories()?;
        let evidence = store.changelog_evidence()?;
        let origin = if advisories.is_empty() {
            advisories = crate::shipped_snapshot()?;
            store.apply_stored_facts(&mut advisories)?;
            AdvisoryOrigin::Shipped
        } else {
            AdvisoryOrigin::Store(path.to_path_buf())
        };
        apply_changelog_evidence(&mut advisories, &evidence);
        return Ok((advisories, origin));
    }
    Ok((crate::shipped_snapshot()?, AdvisoryOrigin::Shipped))
}

/// How long an in-place write waits for a running `db update` to release the store.
pub fn journal_lock_wait() -> std::time::Duration {
    std::time::Duration::from_secs(120)
}

/// A distro fact row keyed like the `distro` table.
pub(crate) fn distro_key(fix: &DistroFix) -> (&str, &str, &str) {
    (&fix.distro, &fix.release, &fix.package)
}
