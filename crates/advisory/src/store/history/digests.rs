//! The digest cache: digests of hypervisor files keyed by what `stat` says about them, so an
//! unchanged file is hashed once rather than on every scan.

use rusqlite::params;

use super::super::{Store, StoreError};
use hvguard_core::{CachedDigest, DigestAlgorithm, FileIdentity};

/// Entries kept; past this the oldest go. Each package update leaves its old files' entries
/// behind, so without a bound the cache would only grow.
pub const MAX_CACHED_DIGESTS: i64 = 50_000;

impl Store {
    /// True when the store has the digest cache table, so that a scan can read it and fill it
    /// (a store from before history has none until history is first written to it).
    pub fn has_digest_cache(&self) -> Result<bool, StoreError> {
        self.has_history()
    }

    /// Every cached digest (empty for a store from before the cache existed).
    pub fn cached_digests(&self) -> Result<Vec<CachedDigest>, StoreError> {
        if !self.has_history()? {
            return Ok(Vec::new());
        }
        let path = &self.path;
        let sql = |e| StoreError::sqlite(path, "reading the digest cache", e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT device, inode, size, mtime_ns, ctime_ns, algorithm, digest
                 FROM digest_cache",
            )
            .map_err(sql)?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    FileIdentity {
                        // SQLite integers are signed; the bits round-trip unchanged.
                        device: row.get::<_, i64>(0)? as u64,
                        inode: row.get::<_, i64>(1)? as u64,
                        size: row.get::<_, i64>(2)? as u64,
                        mtime_ns: row.get(3)?,
                        ctime_ns: row.get(4)?,
                    },
                    row.get::<_, String>(5)?,
                    row.get::<_, String>(6)?,
                ))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(sql)?;
        Ok(rows
            .into_iter()
            // An algorithm this build does not know is skipped, not an error.
            .filter_map(|(identity, algorithm, digest)| {
                let algorithm: DigestAlgorithm = algorithm.parse().ok()?;
                (digest.len() == algorithm.hex_len()).then_some(CachedDigest {
                    identity,
                    algorithm,
                    digest,
                })
            })
            .collect())
    }

    /// For scans that do not record: saves new digests when that costs nothing and changes
    /// nothing else, i.e. the store exists, already has the cache table (no upgrade) and no
    /// `db update` holds it. Returns whether they were saved; anything else is a quiet `false`.
    pub fn save_digests_if_idle(
        path: &std::path::Path,
        fresh: &[CachedDigest],
        now_unix: i64,
    ) -> bool {
        if fresh.is_empty() || !path.is_file() {
            return false;
        }
        let Ok(_lock) = super::super::StoreLock::acquire(path, std::time::Duration::ZERO) else {
            return false;
        };
        let Ok(conn) = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        ) else {
            return false;
        };
        // A cache entry lost to a power cut is only hashed again (see `open_for_history`).
        if conn.pragma_update(None, "synchronous", "OFF").is_err() {
            return false;
        }
        let mut store = Store {
            path: path.to_path_buf(),
            conn,
        };
        if super::super::schema::check(&store.conn, path).is_err()
            || !matches!(store.has_history(), Ok(true))
        {
            return false;
        }
        store.save_digests(fresh, now_unix).is_ok()
    }

    /// Adds digests computed by a scan, then trims the cache to [`MAX_CACHED_DIGESTS`].
    pub fn save_digests(
        &mut self,
        fresh: &[CachedDigest],
        now_unix: i64,
    ) -> Result<(), StoreError> {
        if fresh.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let sql = |e| StoreError::sqlite(&path, "saving the digest cache", e);
        let tx = self.conn.transaction().map_err(sql)?;
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO digest_cache
                     (device, inode, size, mtime_ns, ctime_ns, algorithm, digest, stored_unix)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(sql)?;
            for d in fresh {
                let i = &d.identity;
                put.execute(params![
                    i.device as i64,
                    i.inode as i64,
                    i.size as i64,
                    i.mtime_ns,
                    i.ctime_ns,
                    d.algorithm.as_str(),
                    d.digest,
                    now_unix
                ])
                .map_err(sql)?;
            }
        }
        let count: i64 = tx
            .query_row("SELECT COUNT(*) FROM digest_cache", [], |r| r.get(0))
            .map_err(sql)?;
        if count > MAX_CACHED_DIGESTS {
            tx.execute(
                "DELETE FROM digest_cache WHERE (device, inode, size, mtime_ns, ctime_ns, algorithm)
                 IN (SELECT device, inode, size, mtime_ns, ctime_ns, algorithm FROM digest_cache
                     ORDER BY stored_unix LIMIT ?1)",
                [count - MAX_CACHED_DIGESTS],
            )
            .map_err(sql)?;
        }
        tx.commit().map_err(sql)
    }
}
