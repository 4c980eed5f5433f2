//! Taking a snapshot (`db update --source URL` on a node): the export is checked before it
//! can replace anything — manifest schema, store schema (exactly this build's), age against
//! the store's own data, the content's SHA-256 and size, SQLite's integrity check, and the
//! manifest against what the content itself records — then the node's own tables are
//! carried over from the current store, and the result replaces the store with one
//! `rename`. Everything from the comparison with the current store to the rename runs under
//! the store's writer lock ([`StoreLock`]).

use std::io::{BufReader, Read, Write};
use std::path::Path;

use rusqlite::OptionalExtension;
use sha2::{Digest, Sha256};

use super::super::{update, Store, StoreLock, SCHEMA_VERSION};
use super::error::ExportError;
use super::manifest::{read_manifest, Manifest};
use super::write::{exported_sources, hex, remove_scratch, with_suffix};
use super::{meta_keys, sync_dir, tables};

/// How far in the future a snapshot's `created_at` may be (clock skew between nodes); a
/// later one would block every honest snapshot after it.
pub const FUTURE_TOLERANCE: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);

/// Checks applied to a snapshot before it is taken.
#[derive(Debug, Clone)]
pub struct TakeOptions {
    /// The time ages are measured against.
    pub now: jiff::Timestamp,
    /// A snapshot older than this is refused (a mirror whose publisher stopped).
    pub max_age: jiff::SignedDuration,
    /// How long to wait for another writer (`db update`, a journal write) to release the
    /// store lock.
    pub lock_wait: std::time::Duration,
}

/// What taking a snapshot did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// The store now holds the snapshot; node-local tables carried over are listed.
    Replaced {
        manifest: Manifest,
        carried: Vec<String>,
    },
    /// The store already holds exactly this snapshot: nothing changed.
    AlreadyCurrent { manifest: Manifest },
}

/// What the store records about the snapshot it was last filled from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentSnapshot {
    pub created_at: Option<String>,
    pub sha256: Option<String>,
    pub taken_from: Option<String>,
    pub taken_at: Option<String>,
}

/// The snapshot the store at `store` was last filled from (all `None` when it never was).
pub fn current_snapshot(store: &Path) -> Result<CurrentSnapshot, ExportError> {
    let store = Store::open_readonly(store)?;
    let get = |key: &str| -> Result<Option<String>, ExportError> {
        store
            .connection()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
                row.get(0)
            })
            .optional()
            .map_err(|e| ExportError::sqlite(store.path(), "reading the snapshot record", e))
    };
    Ok(CurrentSnapshot {
        created_at: get(meta_keys::CREATED_AT)?,
        sha256: get(meta_keys::SHA256)?,
        taken_from: get(meta_keys::TAKEN_FROM)?,
        taken_at: get(meta_keys::TAKEN_AT)?,
    })
}

/// Takes the export file `file` (downloaded from `origin`) into the store at `store`.
pub fn take_export(
    store: &Path,
    file: &Path,
    origin: &str,
    options: &TakeOptions,
) -> Result<Taken, ExportError> {
    let handle =
        std::fs::File::open(file).map_err(|e| ExportError::io(file, "opening the snapshot", e))?;
    let mut reader = BufReader::new(handle);
    let manifest = read_manifest(&mut reader, origin)?;
    check_schema(&manifest, origin)?;
    let created = check_age(&manifest, origin, options)?;
    if let Some(parent) = store.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| ExportError::io(parent, "creating the store folder", e))?;
    }
    // Held from the comparison with the current store until the rename: a journal row or an
    // update written in between would be lost, or judged against a store that is gone.
    let _lock = StoreLock::acquire(store, options.lock_wait)?;
    if store.exists() {
        let current = current_snapshot(store)?;
        if current.sha256.as_deref() == Some(manifest.content.sha256.as_str()) {
            return Ok(Taken::AlreadyCurrent { manifest });
        }
        if let Some(have) = newest_data(store, &current)? {
            if created < have {
                return Err(ExportError::Age {
                    origin: origin.to_owned(),
                    reason: format!(
                        "the snapshot was made {} but the store already holds data from {have}: \
                         refusing to go back in time",
                        manifest.created_at
                    ),
                });
            }
        }
    }
    if store.exists() {
        // The node's own tables are carried over row by row, so its store must have this
        // build's schema too: the upgrade any write makes.
        drop(Store::open_locked(store)?);
    }
    // The scratch names of `db update`, so that what a killed run left is removed by the next
    // update or take (both hold the lock, so no live run owns one).
    update::remove_stale_temps(store);
    let temp = update::temp_path(store);
    let result = (|| {
        unpack(&mut reader, &manifest, origin, &temp)?;
        check_content(&temp, &manifest, origin)?;
        let carried = finish_copy(&temp, store, origin, options.now, &manifest)?;
        replace_store(&temp, store)?;
        Ok(Taken::Replaced { manifest, carried })
    })();
    if result.is_err() {
        remove_scratch(&temp);
    }
    result
}

/// Only an export of this build's store schema is taken: the node's own tables are carried
/// into it as they are, and an older content would be a store this build must not write.
fn check_schema(manifest: &Manifest, origin: &str) -> Result<(), ExportError> {
    if manifest.store_schema_version > SCHEMA_VERSION {
        return Err(ExportError::Newer {
            origin: origin.to_owned(),
            what: "advisory store schema",
            found: manifest.store_schema_version.to_string(),
            supported: SCHEMA_VERSION.to_string(),
        });
    }
    if manifest.store_schema_version < 1 {
        return Err(ExportError::NotAnExport {
            origin: origin.to_owned(),
            reason: format!(
                "store schema version {} was never written by hvguard",
                manifest.store_schema_version
            ),
        });
    }
    if manifest.store_schema_version < SCHEMA_VERSION {
        return Err(ExportError::OlderSchema {
            origin: origin.to_owned(),
            found: manifest.store_schema_version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

fn check_age(
    manifest: &Manifest,
    origin: &str,
    options: &TakeOptions,
) -> Result<jiff::Timestamp, ExportError> {
    let age_error = |reason: String| ExportError::Age {
        origin: origin.to_owned(),
        reason,
    };
    let created: jiff::Timestamp = manifest.created_at.parse().map_err(|_| {
        age_error(format!(
            "created_at {:?} is not an RFC 3339 time",
            manifest.created_at
        ))
    })?;
    let age = options.now.duration_since(created);
    if age < -FUTURE_TOLERANCE {
        return Err(age_error(format!(
            "the snapshot claims to be made {} in the future ({}); check the publisher's clock",
            human(-age),
            manifest.created_at
        )));
    }
    if age > options.max_age {
        return Err(age_error(format!(
            "the snapshot is {} old (made {}), older than the {} allowed: the mirror's publisher \
             has stopped exporting",
            human(age),
            manifest.created_at,
            human(options.max_age)
        )));
    }
    Ok(created)
}

/// The newest data the store holds: the snapshot it was filled from, or a later import.
fn newest_data(
    store: &Path,
    current: &CurrentSnapshot,
) -> Result<Option<jiff::Timestamp>, ExportError> {
    let status = Store::open_readonly(store)?.status()?;
    let snapshot = current
        .created_at
        .as_deref()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok());
    let imports = status
        .sources
        .iter()
        .filter_map(|s| s.imported_at.parse::<jiff::Timestamp>().ok())
        .max();
    Ok(snapshot.max(imports))
}

/// Decompresses the content into `temp`, hashing as it goes and stopping one byte past the
/// size the manifest announces (a gzip bomb costs no more disk than the manifest allowed).
fn unpack(
    reader: &mut impl std::io::BufRead,
    manifest: &Manifest,
    origin: &str,
    temp: &Path,
) -> Result<(), ExportError> {
    let mut out = std::fs::File::create(temp).map_err(|e| ExportError::io(temp, "unpacking", e))?;
    let mut gz = flate2::bufread::GzDecoder::new(reader).take(manifest.content.size + 1);
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match gz.read(&mut buf) {
            Ok(n) => n,
            Err(e) => {
                return Err(ExportError::NotAnExport {
                    origin: origin.to_owned(),
                    reason: format!("the content after the manifest is not intact gzip: {e}"),
                })
            }
        };
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| ExportError::io(temp, "unpacking", e))?;
    }
    let found = hex(&hasher.finalize());
    if found != manifest.content.sha256 || size != manifest.content.size {
        return Err(ExportError::HashMismatch {
            origin: origin.to_owned(),
            expected: manifest.content.sha256.clone(),
            expected_size: manifest.content.size,
            found,
            found_size: size,
        });
    }
    out.sync_all()
        .map_err(|e| ExportError::io(temp, "unpacking", e))?;
    Ok(())
}

/// The content, opened as the store it will become: integrity, schema gate, every advisory
/// decodes, and it says what the manifest says (sources, counts, when it was made).
fn check_content(temp: &Path, manifest: &Manifest, origin: &str) -> Result<(), ExportError> {
    let mismatch = |reason: String| ExportError::ManifestMismatch {
        origin: origin.to_owned(),
        reason,
    };
    let store = Store::open_readonly(temp)?;
    let integrity: String = store
        .connection()
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .map_err(|e| ExportError::sqlite(temp, "checking the snapshot", e))?;
    if integrity != "ok" {
        return Err(mismatch(format!("integrity_check: {integrity}")));
    }
    let created: Option<String> = store
        .connection()
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [meta_keys::CREATED_AT],
            |row| row.get(0),
        )
        .optional()
        .map_err(|e| ExportError::sqlite(temp, "reading the snapshot record", e))?;
    if created.as_deref() != Some(manifest.created_at.as_str()) {
        return Err(mismatch(format!(
            "the manifest says it was made {}, the content {}",
            manifest.created_at,
            created.as_deref().unwrap_or("(not recorded)")
        )));
    }
    let status = store.status()?;
    if status.schema_version != manifest.store_schema_version {
        return Err(mismatch(format!(
            "store schema {} in the manifest, {} in the content",
            manifest.store_schema_version, status.schema_version
        )));
    }
    if exported_sources(&status) != manifest.sources {
        return Err(mismatch("the source list differs".to_owned()));
    }
    let decoded = store.advisories()?.len() as u64;
    if status.advisories != manifest.counts.advisories
        || decoded != manifest.counts.advisories
        || status.kev != manifest.counts.kev
        || status.epss != manifest.counts.epss
        || status.distro != manifest.counts.distro
    {
        return Err(mismatch(format!(
            "the manifest counts {} advisories, the content holds {} ({decoded} decode)",
            manifest.counts.advisories, status.advisories
        )));
    }
    Ok(())
}

/// Carries the node's own tables over from the current store and records where the
/// snapshot came from.
fn finish_copy(
    temp: &Path,
    store: &Path,
    origin: &str,
    now: jiff::Timestamp,
    manifest: &Manifest,
) -> Result<Vec<String>, ExportError> {
    let conn = rusqlite::Connection::open(temp)
        .map_err(|e| ExportError::sqlite(temp, "opening the snapshot", e))?;
    let mut carried = Vec::new();
    if store.exists() {
        let path = store.to_str().ok_or_else(|| {
            ExportError::io(
                store,
                "attaching the store",
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "path is not UTF-8"),
            )
        })?;
        // Only read from: every statement below writes to `main` (the snapshot).
        conn.execute("ATTACH DATABASE ?1 AS node", [path])
            .map_err(|e| ExportError::sqlite(store, "attaching the current store", e))?;
        carried = tables::carry_node_local(&conn, temp)?;
        conn.execute_batch("DETACH DATABASE node")
            .map_err(|e| ExportError::sqlite(store, "detaching the current store", e))?;
    }
    let taken_at = now.round(jiff::Unit::Second).unwrap_or(now).to_string();
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2), (?3, ?4), (?5, ?6)",
        [
            meta_keys::SHA256,
            manifest.content.sha256.as_str(),
            meta_keys::TAKEN_FROM,
            origin,
            meta_keys::TAKEN_AT,
            taken_at.as_str(),
        ],
    )
    .map_err(|e| ExportError::sqlite(temp, "recording the snapshot", e))?;
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .map_err(|e| ExportError::sqlite(temp, "checking the new store", e))?;
    if integrity != "ok" {
        return Err(ExportError::Store(super::super::StoreError::Verify {
            path: temp.to_path_buf(),
            reason: format!("integrity_check: {integrity}"),
        }));
    }
    drop(conn);
    std::fs::File::open(temp)
        .and_then(|f| f.sync_all())
        .map_err(|e| ExportError::io(temp, "flushing the new store", e))?;
    Ok(carried)
}

/// Renames the new store over the old one, keeping the old one as `STORE.bak` (a hard
/// link: no copy, and the rename stays atomic).
fn replace_store(temp: &Path, store: &Path) -> Result<(), ExportError> {
    if store.is_file() {
        let backup = with_suffix(store, ".bak");
        let _ = std::fs::remove_file(&backup);
        std::fs::hard_link(store, &backup)
            .or_else(|_| std::fs::copy(store, &backup).map(drop))
            .map_err(|e| ExportError::io(&backup, "keeping the previous store", e))?;
    }
    std::fs::rename(temp, store)
        .map_err(|e| ExportError::io(store, "replacing the store with the snapshot", e))?;
    sync_dir(store);
    Ok(())
}

fn human(d: jiff::SignedDuration) -> String {
    let secs = d.as_secs().abs();
    let (days, hours, mins) = (secs / 86_400, (secs % 86_400) / 3600, (secs % 3600) / 60);
    match (days, hours) {
        (0, 0) => format!("{mins}m"),
        (0, h) => format!("{h}h {mins}m"),
        (d, h) => format!("{d}d {h}h"),
    }
}
