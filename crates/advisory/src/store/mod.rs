//! The local advisory store: one SQLite file (see `docs/advisory-store.md`), read by `scan`
//! and `advisories`, replaced atomically by `db import` and `db update`.

mod error;
mod location;
mod schema;
mod update;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

pub use error::StoreError;
pub use location::{store_path, store_path_for, SYSTEM_STORE};
pub use schema::SCHEMA_VERSION;
pub use update::{update_store, ImportBatch, Progress, SourceInfo, UpdateSummary};

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
    /// (advisory, binary) pairs already reported by `advisories --new`.
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

    /// Opens a store for recording `seen` state, creating an empty one (with its parent
    /// folder) when the file does not exist yet.
    pub fn open_or_create(path: &Path) -> Result<Store, StoreError> {
        let fresh = !path.exists();
        if fresh {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .map_err(|e| StoreError::io(parent, "creating the store folder", e))?;
            }
        }
        let conn = Connection::open(path)
            .map_err(|e| StoreError::sqlite(path, "opening the advisory store", e))?;
        if fresh {
            schema::create(&conn, path)?;
        } else {
            schema::check(&conn, path)?;
        }
        Ok(Store {
            path: path.to_path_buf(),
            conn,
        })
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
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
        crate::apply_facts(&mut advisories, &kev, &epss, &distro);
        Ok(advisories)
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

    /// Records that each (advisory id, binary path) pair was reported at `now`, and returns
    /// the pairs that had never been recorded before, in input order. One transaction: a
    /// failure records none of them.
    pub fn record_seen(
        &mut self,
        pairs: &[(String, String)],
        now: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let path = self.path.clone();
        let sql_err = |e| StoreError::sqlite(&path, "recording reported advisories", e);
        let tx = self.conn.transaction().map_err(sql_err)?;
        let mut fresh = Vec::new();
        {
            let mut stmt = tx
                .prepare(
                    "INSERT OR IGNORE INTO seen (advisory, binary, first_seen) VALUES (?1, ?2, ?3)",
                )
                .map_err(sql_err)?;
            for (id, binary) in pairs {
                if stmt
                    .execute([id, binary, &now.to_owned()])
                    .map_err(sql_err)?
                    == 1
                {
                    fresh.push((id.clone(), binary.clone()));
                }
            }
        }
        tx.commit().map_err(sql_err)?;
        Ok(fresh)
    }
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
pub fn load_advisories(path: &Path) -> Result<(Vec<Advisory>, AdvisoryOrigin), StoreError> {
    if path.exists() {
        let advisories = Store::open_readonly(path)?.advisories()?;
        if !advisories.is_empty() {
            return Ok((advisories, AdvisoryOrigin::Store(path.to_path_buf())));
        }
    }
    Ok((crate::shipped_snapshot()?, AdvisoryOrigin::Shipped))
}

/// A distro fact row keyed like the `distro` table.
pub(crate) fn distro_key(fix: &DistroFix) -> (&str, &str, &str) {
    (&fix.distro, &fix.release, &fix.package)
}
