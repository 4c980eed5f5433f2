//! `hvguard db export FILE`: a consistent copy of the store (SQLite `VACUUM INTO`, taken
//! under the store's writer lock, so that it is the store as the last writer left it),
//! brought to this build's schema, without the node's own tables, verified, hashed,
//! compressed, and written behind its manifest line atomically.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::super::{migrate, Store, StoreLock, SCHEMA_VERSION};
use super::error::ExportError;
use super::manifest::{Content, Counts, ExportedSource, Manifest, CONTENT_ENCODING, EXPORT_SCHEMA};
use super::{meta_keys, scratch_path, sync_dir, tables};

/// Writes an export of the store at `store` to `out`, made at `now`. A file already at
/// `out` is replaced atomically and kept as `out.bak`. The store lock is waited for up to
/// `lock_wait` and held while the store is copied.
pub fn export_store(
    store: &Path,
    out: &Path,
    now: jiff::Timestamp,
    lock_wait: std::time::Duration,
) -> Result<Manifest, ExportError> {
    // A missing or foreign store is named as such before a lock file is made beside it.
    drop(Store::open_readonly(store)?);
    let lock = StoreLock::acquire(store, lock_wait)?;
    // Opened again under the lock: an update may have renamed a new store over the old.
    let source = Store::open_readonly(store)?;
    let status = source.status()?;
    if status.advisories == 0 && status.sources.is_empty() {
        return Err(ExportError::NotAnExport {
            origin: store.display().to_string(),
            reason:
                "the store holds no feed data yet (run `hvguard db update` or `db import` first)"
                    .to_owned(),
        });
    }
    let copy = scratch_path(out, "export.sqlite");
    let result = (|| {
        copy_store(&source, store, &copy)?;
        drop(source);
        drop(lock);
        let created_at = now.round(jiff::Unit::Second).unwrap_or(now).to_string();
        prepare_copy(&copy, &created_at)?;
        let copied = verify_copy(&copy, &status)?;
        let (sha256, size) = hash_file(&copy)?;
        let manifest = Manifest {
            schema: EXPORT_SCHEMA.to_owned(),
            created_at,
            hvguard_version: env!("CARGO_PKG_VERSION").to_owned(),
            store_schema_version: copied.schema_version,
            content: Content {
                encoding: CONTENT_ENCODING.to_owned(),
                sha256,
                size,
            },
            sources: exported_sources(&copied),
            counts: Counts {
                advisories: copied.advisories,
                kev: copied.kev,
                epss: copied.epss,
                distro: copied.distro,
            },
        };
        write_export(&manifest, &copy, out)?;
        Ok(manifest)
    })();
    remove_scratch(&copy);
    result
}

/// The sources as the manifest lists them.
pub(crate) fn exported_sources(status: &super::super::StoreStatus) -> Vec<ExportedSource> {
    let mut sources: Vec<ExportedSource> = status
        .sources
        .iter()
        .map(|s| ExportedSource {
            name: s.name.clone(),
            location: s.location.clone(),
            format: s.format.clone(),
            imported_at: s.imported_at.clone(),
            records: s.records,
            sha256: s.sha256.clone(),
        })
        .collect();
    sources.sort();
    sources
}

fn copy_store(source: &Store, store: &Path, copy: &Path) -> Result<(), ExportError> {
    let target = copy.to_str().ok_or_else(|| {
        ExportError::io(
            copy,
            "naming the copy",
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "path is not UTF-8"),
        )
    })?;
    source
        .connection()
        .execute("VACUUM INTO ?1", [target])
        .map_err(|e| ExportError::sqlite(store, "copying the store", e))?;
    Ok(())
}

/// Drops the node's own state and records the export's identity inside the content (so
/// that the hash covers it and the manifest can be checked against it).
fn prepare_copy(copy: &Path, created_at: &str) -> Result<(), ExportError> {
    let mut conn = rusqlite::Connection::open(copy)
        .map_err(|e| ExportError::sqlite(copy, "opening the copy", e))?;
    // A store an older hvguard wrote (and nothing has written to since) is exported at this
    // build's schema: nodes take exports of their own schema only.
    migrate::upgrade(&mut conn, copy)?;
    tables::strip_node_local(&conn, copy)?;
    conn.execute(
        "DELETE FROM meta WHERE key LIKE 'export\\_%' ESCAPE '\\'",
        [],
    )
    .map_err(|e| ExportError::sqlite(copy, "clearing export metadata", e))?;
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2), (?3, ?4)",
        [
            meta_keys::CREATED_AT,
            created_at,
            meta_keys::HVGUARD_VERSION,
            env!("CARGO_PKG_VERSION"),
        ],
    )
    .map_err(|e| ExportError::sqlite(copy, "recording the export", e))?;
    // Compacts what was dropped, and gives the file a layout independent of the store's
    // history of writes.
    conn.execute_batch("VACUUM")
        .map_err(|e| ExportError::sqlite(copy, "compacting the copy", e))?;
    Ok(())
}

/// Checks the copy the way a node will read it: integrity, schema, the same feed data.
fn verify_copy(
    copy: &Path,
    original: &super::super::StoreStatus,
) -> Result<super::super::StoreStatus, ExportError> {
    let store = Store::open_readonly(copy)?;
    let integrity: String = store
        .connection()
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .map_err(|e| ExportError::sqlite(copy, "checking the copy", e))?;
    let fail = |reason: String| {
        ExportError::Store(super::super::StoreError::Verify {
            path: copy.to_path_buf(),
            reason,
        })
    };
    if integrity != "ok" {
        return Err(fail(format!("integrity_check: {integrity}")));
    }
    // Every advisory must still decode, as `scan` will decode it.
    let decoded = store.advisories()?.len() as u64;
    let status = store.status()?;
    if decoded != status.advisories
        || status.advisories != original.advisories
        || status.sources != original.sources
        || status.schema_version != SCHEMA_VERSION
    {
        return Err(fail(format!(
            "the copy holds {} advisories ({decoded} decoded) and {} sources at schema {}; \
             the store {} and {}, and this hvguard writes schema {SCHEMA_VERSION}",
            status.advisories,
            status.sources.len(),
            status.schema_version,
            original.advisories,
            original.sources.len()
        )));
    }
    Ok(status)
}

pub(crate) fn hash_file(path: &Path) -> Result<(String, u64), ExportError> {
    let mut file =
        std::fs::File::open(path).map_err(|e| ExportError::io(path, "hashing the copy", e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| ExportError::io(path, "hashing the copy", e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((hex(&hasher.finalize()), size))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Manifest line, then the gzip'ed copy, into a temporary file beside `out`; flushed, then
/// renamed over `out` (a previous file is kept as `out.bak`).
fn write_export(manifest: &Manifest, copy: &Path, out: &Path) -> Result<(), ExportError> {
    let temp = scratch_path(out, "tmp");
    let write = || -> std::io::Result<()> {
        let file = std::fs::File::create(&temp)?;
        let mut writer = std::io::BufWriter::new(file);
        let line = manifest.to_line().map_err(std::io::Error::other)?;
        writer.write_all(line.as_bytes())?;
        let mut gz = flate2::write::GzEncoder::new(writer, flate2::Compression::default());
        std::io::copy(&mut std::fs::File::open(copy)?, &mut gz)?;
        let writer = gz.finish()?;
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()
    };
    if let Err(e) = write() {
        remove_scratch(&temp);
        return Err(ExportError::io(&temp, "writing the export", e));
    }
    if out.is_file() {
        let backup = with_suffix(out, ".bak");
        let _ = std::fs::remove_file(&backup);
        // A hard link keeps the previous export without copying it; the rename then only
        // replaces the name `out`.
        std::fs::hard_link(out, &backup)
            .or_else(|_| std::fs::copy(out, &backup).map(drop))
            .map_err(|e| {
                remove_scratch(&temp);
                ExportError::io(&backup, "keeping the previous export", e)
            })?;
    }
    std::fs::rename(&temp, out).map_err(|e| {
        remove_scratch(&temp);
        ExportError::io(out, "replacing the export", e)
    })?;
    sync_dir(out);
    Ok(())
}

pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Best effort: a scratch file that cannot be removed is never read again.
pub(crate) fn remove_scratch(path: &Path) {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(with_suffix(path, "-journal"));
}
