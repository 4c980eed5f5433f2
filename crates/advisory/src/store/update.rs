//! Atomic replacement of the store: copy the old file beside it, import into the copy in
//! one transaction, verify the copy, fsync it, and rename it over the old file. Every
//! failure before the rename leaves the old file byte-identical and removes the copy.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, Transaction};

use super::lock::{sibling, StoreLock};
use super::{distro_key, migrate, schema, Store, StoreError};
use crate::import::Imported;

/// Where one batch of records came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    /// The source's name; importing a source again replaces everything it brought before.
    pub name: String,
    /// The URL or path it was read from.
    pub location: String,
    /// The feed format(s), comma-separated.
    pub format: String,
    /// Bytes read.
    pub size: u64,
    /// SHA-256 of the bytes, when one file was read.
    pub sha256: Option<String>,
}

/// One source's records, ready to be written.
#[derive(Debug, Clone)]
pub struct ImportBatch {
    /// Where they came from.
    pub source: SourceInfo,
    /// What the importers produced.
    pub imported: Imported,
}

impl SourceInfo {
    /// Describes a local file or directory given to `db import`: the source is named after
    /// the path, sized by the feed files read, and hashed when it is one file.
    pub fn for_path(path: &Path, imported: &Imported) -> Result<SourceInfo, StoreError> {
        let name = std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string();
        let mut size = 0;
        for (file, _) in &imported.files {
            size += std::fs::metadata(file)
                .map_err(|e| StoreError::io(file, "reading the imported file's size", e))?
                .len();
        }
        let sha256 = match imported.files.as_slice() {
            [(file, _)] if file == path => Some(sha256_file(file)?),
            _ => None,
        };
        let formats: BTreeSet<&str> = imported.files.iter().map(|(_, f)| f.name()).collect();
        Ok(SourceInfo {
            location: name.clone(),
            name,
            format: formats.into_iter().collect::<Vec<_>>().join(","),
            size,
            sha256,
        })
    }
}

/// Streams a file through SHA-256 (no size limit needed: nothing is kept in memory).
fn sha256_file(path: &Path) -> Result<String, StoreError> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let (mut file, _) = hvguard_core::operator_file::open_regular(path)
        .map_err(|e| StoreError::io(path, "hashing the file", e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| StoreError::io(path, "hashing the file", e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

impl ImportBatch {
    /// Records in the batch (advisories plus facts).
    pub fn records(&self) -> u64 {
        let i = &self.imported;
        (i.advisories.len() + i.kev.len() + i.epss.len() + i.distro.len()) as u64
    }
}

/// How far an update got, for progress display (and for stopping it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Records written so far.
    pub done: u64,
    /// Records to write in all.
    pub total: u64,
}

/// What an update wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateSummary {
    /// The store file.
    pub path: PathBuf,
    /// Records now held per updated source, in batch order.
    pub sources: Vec<(String, u64)>,
    /// Advisories in the store after the update.
    pub advisories: u64,
}

/// Progress is reported every this many records (and at the end).
const PROGRESS_EVERY: u64 = 256;

/// How an update may change the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// Write a batch that holds no records (it removes what its source brought before).
    /// Off by default: an empty feed is far more often a truncated download, a broken
    /// mirror or a hostile server than a source that really has nothing left.
    pub replace_empty: bool,
    /// How long to wait for another writer (an update, or `advisories --new/--notify`)
    /// to release the store lock.
    pub lock_wait: Duration,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self {
            replace_empty: false,
            lock_wait: Duration::from_secs(120),
        }
    }
}

/// Writes `batches` into the store at `path` (created when missing) atomically, with the
/// default [`WriteOptions`].
///
/// `progress` is called as records are written; returning `Err(reason)` stops the update,
/// which then fails with [`StoreError::Interrupted`] and leaves the old store untouched.
pub fn update_store(
    path: &Path,
    batches: &[ImportBatch],
    now: &str,
    progress: &mut dyn FnMut(Progress) -> Result<(), String>,
) -> Result<UpdateSummary, StoreError> {
    update_store_with(path, batches, now, WriteOptions::default(), progress)
}

/// [`update_store`] with explicit [`WriteOptions`].
pub fn update_store_with(
    path: &Path,
    batches: &[ImportBatch],
    now: &str,
    options: WriteOptions,
    progress: &mut dyn FnMut(Progress) -> Result<(), String>,
) -> Result<UpdateSummary, StoreError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| StoreError::io(parent, "creating the store folder", e))?;
    }
    // Held until the end of the update: a concurrent writer would either rename its copy
    // over ours or write rows into the file we are about to replace, and lose them.
    let _lock = StoreLock::acquire(path, options.lock_wait)?;
    remove_stale_temps(path);
    let temp = temp_path(path);
    let result = build_and_swap(path, &temp, batches, now, options, progress);
    if result.is_err() {
        remove_temp(&temp);
    }
    result
}

fn build_and_swap(
    path: &Path,
    temp: &Path,
    batches: &[ImportBatch],
    now: &str,
    options: WriteOptions,
    progress: &mut dyn FnMut(Progress) -> Result<(), String>,
) -> Result<UpdateSummary, StoreError> {
    copy_or_create(path, temp)?;
    let mut conn =
        Connection::open(temp).map_err(|e| StoreError::sqlite(temp, "opening the new store", e))?;
    // An older store is upgraded in the copy: the rename below publishes both at once.
    migrate::upgrade(&mut conn, temp)?;
    if !options.replace_empty {
        refuse_empty_batches(&conn, temp, batches)?;
    }
    let tx = conn
        .transaction()
        .map_err(|e| StoreError::sqlite(temp, "starting the import transaction", e))?;
    let total = batches.iter().map(ImportBatch::records).sum();
    let mut done = 0u64;
    let mut sources = Vec::new();
    for batch in batches {
        write_batch(&tx, temp, batch, now, &mut |n| {
            done += n;
            if done % PROGRESS_EVERY < n || done == total {
                progress(Progress { done, total }).map_err(|reason| StoreError::Interrupted {
                    path: path.to_path_buf(),
                    reason,
                })?;
            }
            Ok(())
        })?;
    }
    for batch in batches {
        let n = source_records(&tx, temp, &batch.source.name)?;
        tx.execute(
            "UPDATE sources SET records = ?1 WHERE name = ?2",
            params![n as i64, batch.source.name],
        )
        .map_err(|e| StoreError::sqlite(temp, "counting source records", e))?;
        sources.push((batch.source.name.clone(), n));
    }
    tx.commit()
        .map_err(|e| StoreError::sqlite(temp, "committing the import", e))?;
    drop(conn);
    let advisories = verify(temp, batches)?;
    sync_file(temp)?;
    std::fs::rename(temp, path)
        .map_err(|e| StoreError::io(path, "replacing the store with the new copy", e))?;
    sync_parent(path);
    Ok(UpdateSummary {
        path: path.to_path_buf(),
        sources,
        advisories,
    })
}

/// `.NAME.tmp-PID` beside the store, so the final rename stays on one file system.
pub(super) fn temp_path(path: &Path) -> PathBuf {
    sibling(path, &format!("tmp-{}", std::process::id()))
}

/// A batch with no records would silently wipe its source: refused, naming the source and
/// what it would remove.
fn refuse_empty_batches(
    conn: &Connection,
    temp: &Path,
    batches: &[ImportBatch],
) -> Result<(), StoreError> {
    let Some(batch) = batches.iter().find(|b| b.records() == 0) else {
        return Ok(());
    };
    let existing: i64 = conn
        .query_row(
            "SELECT COALESCE((SELECT records FROM sources WHERE name = ?1), 0)",
            [&batch.source.name],
            |row| row.get(0),
        )
        .map_err(|e| StoreError::sqlite(temp, "reading the source's records", e))?;
    Err(StoreError::EmptySource {
        source_name: batch.source.name.clone(),
        existing: u64::try_from(existing).unwrap_or(0),
    })
}

/// Copies left by a killed update; safe to remove because the caller holds the lock.
pub(super) fn remove_stale_temps(path: &Path) {
    let prefix = sibling(path, "tmp-")
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => dir.to_path_buf(),
        None => PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            // Best effort: a leftover that cannot be removed is still never read.
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

pub(super) fn remove_temp(temp: &Path) {
    // Best effort: the file may not exist, and a leftover is harmless (it is never read).
    let _ = std::fs::remove_file(temp);
    let mut journal = temp.as_os_str().to_owned();
    journal.push("-journal");
    let _ = std::fs::remove_file(PathBuf::from(journal));
}

/// Copies the old store into `temp` through SQLite (`VACUUM INTO`, a consistent copy even
/// while another process reads it), or creates an empty store there.
fn copy_or_create(path: &Path, temp: &Path) -> Result<(), StoreError> {
    if path.exists() {
        let old = Store::open_readonly(path)?;
        let target = temp.to_str().ok_or_else(|| {
            StoreError::io(
                temp,
                "naming the new store",
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "path is not UTF-8"),
            )
        })?;
        old.conn
            .execute("VACUUM INTO ?1", [target])
            .map_err(|e| StoreError::sqlite(path, "copying the store", e))?;
        return Ok(());
    }
    let conn =
        Connection::open(temp).map_err(|e| StoreError::sqlite(temp, "creating the store", e))?;
    schema::create(&conn, temp)
}

fn write_batch(
    tx: &Transaction<'_>,
    temp: &Path,
    batch: &ImportBatch,
    now: &str,
    step: &mut dyn FnMut(u64) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let name = &batch.source.name;
    let sql = |what: &'static str| move |e| StoreError::sqlite(temp, what, e);
    for table in ["advisories", "advisory_products", "kev", "epss", "distro"] {
        tx.execute(&format!("DELETE FROM {table} WHERE source = ?1"), [name])
            .map_err(sql("replacing the source's records"))?;
    }
    let s = &batch.source;
    tx.execute(
        "INSERT OR REPLACE INTO sources (name, location, format, imported_at, records, size, sha256)
         VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6)",
        params![s.name, s.location, s.format, now, s.size as i64, s.sha256],
    )
    .map_err(sql("recording the source"))?;

    let mut put_adv = tx
        .prepare("INSERT OR REPLACE INTO advisories (id, source, json) VALUES (?1, ?2, ?3)")
        .map_err(sql("preparing the advisory insert"))?;
    let mut put_product = tx
        .prepare(
            "INSERT OR IGNORE INTO advisory_products (id, product, source) VALUES (?1, ?2, ?3)",
        )
        .map_err(sql("preparing the product index"))?;
    // One source may hold several records of one id (a folder with the NVD and the CVE 5
    // record of a CVE): merged, so that none of them is lost to the primary key.
    let mut by_id: std::collections::BTreeMap<&str, Vec<(String, crate::Advisory)>> =
        std::collections::BTreeMap::new();
    for adv in &batch.imported.advisories {
        by_id
            .entry(adv.id.as_str())
            .or_default()
            .push((name.clone(), adv.clone()));
    }
    for (id, records) in by_id {
        let count = records.len() as u64;
        let Some(adv) = crate::merge::merge_records(records) else {
            continue;
        };
        let json = to_json(temp, id, &adv)?;
        put_adv
            .execute(params![id, name, json])
            .map_err(sql("writing an advisory"))?;
        for product in &adv.products {
            put_product
                .execute(params![id, product.product.name(), name])
                .map_err(sql("writing the product index"))?;
        }
        step(count)?;
    }
    let mut put_kev = tx
        .prepare("INSERT OR REPLACE INTO kev (cve, source, json) VALUES (?1, ?2, ?3)")
        .map_err(sql("preparing the KEV insert"))?;
    for (cve, entry) in &batch.imported.kev {
        put_kev
            .execute(params![cve, name, to_json(temp, cve, entry)?])
            .map_err(sql("writing a KEV entry"))?;
        step(1)?;
    }
    let mut put_epss = tx
        .prepare(
            "INSERT OR REPLACE INTO epss (cve, source, epss, percentile) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(sql("preparing the EPSS insert"))?;
    for (cve, score) in &batch.imported.epss {
        put_epss
            .execute(params![cve, name, score.epss, score.percentile])
            .map_err(sql("writing an EPSS score"))?;
        step(1)?;
    }
    let mut put_distro = tx
        .prepare(
            "INSERT OR REPLACE INTO distro (id, distro, release, package, source, json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(sql("preparing the distro insert"))?;
    for fact in &batch.imported.distro {
        let (distro, release, package) = distro_key(&fact.fix);
        put_distro
            .execute(params![
                fact.id,
                distro,
                release,
                package,
                name,
                to_json(temp, &fact.id, fact)?
            ])
            .map_err(sql("writing a distro verdict"))?;
        step(1)?;
    }
    Ok(())
}

fn to_json<T: serde::Serialize>(temp: &Path, id: &str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Record {
        path: temp.to_path_buf(),
        id: id.to_owned(),
        message: e.to_string(),
    })
}

fn source_records(tx: &Transaction<'_>, temp: &Path, name: &str) -> Result<u64, StoreError> {
    let n: i64 = tx
        .query_row(
            "SELECT (SELECT COUNT(*) FROM advisories WHERE source = ?1)
                  + (SELECT COUNT(*) FROM kev WHERE source = ?1)
                  + (SELECT COUNT(*) FROM epss WHERE source = ?1)
                  + (SELECT COUNT(*) FROM distro WHERE source = ?1)",
            [name],
            |row| row.get(0),
        )
        .map_err(|e| StoreError::sqlite(temp, "counting source records", e))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Checks the new file the way a reader will use it: SQLite's own integrity check, the
/// schema gate, every advisory decodes, and every advisory just imported is there.
/// Returns the advisory count.
fn verify(temp: &Path, batches: &[ImportBatch]) -> Result<u64, StoreError> {
    let fail = |reason: String| StoreError::Verify {
        path: temp.to_path_buf(),
        reason,
    };
    let store = Store::open_readonly(temp)?;
    let integrity: String = store
        .conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .map_err(|e| fail(e.to_string()))?;
    if integrity != "ok" {
        return Err(fail(format!("integrity_check: {integrity}")));
    }
    let stored = store.advisories()?;
    let count = store.count("SELECT COUNT(DISTINCT id) FROM advisories")?;
    if stored.len() as u64 != count {
        return Err(fail(format!(
            "{count} advisory rows but {} decoded",
            stored.len()
        )));
    }
    let ids: BTreeSet<&str> = stored.iter().map(|a| a.id.as_str()).collect();
    let missing = batches
        .iter()
        .flat_map(|b| b.imported.advisories.iter())
        .find(|a| !ids.contains(a.id.as_str()));
    if let Some(missing) = missing {
        return Err(fail(format!("advisory {} was not written", missing.id)));
    }
    Ok(count)
}

fn sync_file(path: &Path) -> Result<(), StoreError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::io(path, "flushing the new store to disk", e))
}

/// Makes the rename itself durable. Best effort: some file systems refuse to fsync a
/// directory, and the rename has already happened either way.
fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Ok(dir) = std::fs::File::open(parent) {
            let _ = dir.sync_all();
        }
    }
}
