//! What `advisories --new` and `--notify` remember between runs: for each host scope and
//! (advisory, binary), whether it was listed as new and when it was delivered to a webhook.
//!
//! A scope is the host's identity (machine-id, else hostname) plus the root it was read
//! through, so that several hosts, or a host and the images mounted on it, can share one
//! store and each see its own new advisories. A finding counts as delivered only after the
//! webhook accepted it (2xx): one that could not be sent stays pending and the next
//! `--notify` run sends it again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::lock::StoreLock;
use super::{migrate, StoreError};

/// Whose state a row is: the host identity and the root it was scanned through.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct StateScope {
    /// `machine-id:<id>`, `hostname:<name>` or `unknown`.
    pub host: String,
    /// The root directory on the scanning machine (`/` for the live host).
    pub root: String,
}

/// One (advisory id, binary path) a finding is about.
pub type SeenKey = (String, String);

/// A finding owed to the webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAlert {
    /// What it is about.
    pub key: SeenKey,
    /// True when an earlier run already tried (or should have tried) to send it.
    pub retry: bool,
}

/// The store opened for recording state, holding the writer lock until dropped.
#[derive(Debug)]
pub struct StateStore {
    path: PathBuf,
    conn: Connection,
    _lock: StoreLock,
}

impl StateStore {
    /// Takes the store lock (waiting up to `lock_wait` for an update or another
    /// `--new`/`--notify` run), then opens the store, creating it and its folder when
    /// missing, and upgrading an older schema in place.
    pub fn open(path: &Path, lock_wait: Duration) -> Result<StateStore, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::io(parent, "creating the store folder", e))?;
        }
        // The lock comes first: an update renames its copy over the store while holding it,
        // so a connection opened before the lock could be writing into a replaced file.
        let lock = StoreLock::acquire(path, lock_wait)?;
        // Readers take no lock: a new store is made beside the path and renamed into place,
        // so they see no store or a whole one.
        if !path.exists() {
            super::create_whole(path)?;
        }
        let mut conn = Connection::open(path)
            .map_err(|e| StoreError::sqlite(path, "opening the advisory store", e))?;
        migrate::upgrade(&mut conn, path)?;
        Ok(StateStore {
            path: path.to_path_buf(),
            conn,
            _lock: lock,
        })
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records that `keys` were listed as new for `scope` at `now`, and returns those that
    /// had not been listed before, in input order. One transaction.
    pub fn record_listed(
        &mut self,
        scope: &StateScope,
        keys: &[SeenKey],
        now: &str,
    ) -> Result<Vec<SeenKey>, StoreError> {
        let path = self.path.clone();
        let sql = |e| StoreError::sqlite(&path, "recording the advisories listed as new", e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        adopt_legacy_rows(&tx, scope).map_err(sql)?;
        let mut fresh = Vec::new();
        {
            let mut insert = tx
                .prepare(
                    "INSERT OR IGNORE INTO seen (host, root, advisory, binary, first_seen)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(sql)?;
            let mut listed = tx
                .prepare(
                    "SELECT listed FROM seen
                     WHERE host = ?1 AND root = ?2 AND advisory = ?3 AND binary = ?4",
                )
                .map_err(sql)?;
            let mut mark = tx
                .prepare(
                    "UPDATE seen SET listed = 1
                     WHERE host = ?1 AND root = ?2 AND advisory = ?3 AND binary = ?4",
                )
                .map_err(sql)?;
            for (id, binary) in keys {
                let at = params![scope.host, scope.root, id, binary];
                insert
                    .execute(params![scope.host, scope.root, id, binary, now])
                    .map_err(sql)?;
                let was: i64 = listed.query_row(at, |row| row.get(0)).map_err(sql)?;
                if was == 0 {
                    mark.execute(at).map_err(sql)?;
                    fresh.push((id.clone(), binary.clone()));
                }
            }
        }
        tx.commit().map_err(sql)?;
        Ok(fresh)
    }

    /// The keys among `keys` not yet delivered to a webhook for `scope`, in input order.
    /// Keys never seen before are recorded (as owed) first, so an alert that a crash or a
    /// failed post kept from being delivered is still owed on the next run.
    pub fn pending_alerts(
        &mut self,
        scope: &StateScope,
        keys: &[SeenKey],
        now: &str,
    ) -> Result<Vec<PendingAlert>, StoreError> {
        let path = self.path.clone();
        let sql = |e| StoreError::sqlite(&path, "reading the alerts still to send", e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        adopt_legacy_rows(&tx, scope).map_err(sql)?;
        let mut pending = Vec::new();
        {
            let mut find = tx
                .prepare(
                    "SELECT notified_at IS NOT NULL FROM seen
                     WHERE host = ?1 AND root = ?2 AND advisory = ?3 AND binary = ?4",
                )
                .map_err(sql)?;
            let mut insert = tx
                .prepare(
                    "INSERT INTO seen (host, root, advisory, binary, first_seen)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(sql)?;
            for (id, binary) in keys {
                let delivered: Option<bool> = find
                    .query_row(params![scope.host, scope.root, id, binary], |row| {
                        row.get(0)
                    })
                    .optional()
                    .map_err(sql)?;
                match delivered {
                    Some(true) => {}
                    Some(false) => pending.push(PendingAlert {
                        key: (id.clone(), binary.clone()),
                        retry: true,
                    }),
                    None => {
                        insert
                            .execute(params![scope.host, scope.root, id, binary, now])
                            .map_err(sql)?;
                        pending.push(PendingAlert {
                            key: (id.clone(), binary.clone()),
                            retry: false,
                        });
                    }
                }
            }
        }
        tx.commit().map_err(sql)?;
        Ok(pending)
    }

    /// Marks `keys` as delivered for `scope` at `now`: call only after the webhook accepted
    /// them.
    pub fn mark_delivered(
        &mut self,
        scope: &StateScope,
        keys: &[SeenKey],
        now: &str,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = |e| StoreError::sqlite(&path, "recording the delivered alerts", e);
        let tx = self.conn.transaction().map_err(sql)?;
        {
            let mut mark = tx
                .prepare(
                    "UPDATE seen SET notified_at = ?5
                     WHERE host = ?1 AND root = ?2 AND advisory = ?3 AND binary = ?4",
                )
                .map_err(sql)?;
            for (id, binary) in keys {
                mark.execute(params![scope.host, scope.root, id, binary, now])
                    .map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)
    }
}

/// Rows migrated from schema 1 carry no scope. Schema 1 stores served one host (the
/// store is per machine), so the first scope that records state takes them over; any later
/// scope starts fresh, which may repeat an alert once but never hides one.
fn adopt_legacy_rows(tx: &Connection, scope: &StateScope) -> rusqlite::Result<()> {
    let legacy: i64 = tx.query_row(
        "SELECT COUNT(*) FROM seen WHERE host = '' AND root = ''",
        [],
        |row| row.get(0),
    )?;
    if legacy == 0 || (scope.host.is_empty() && scope.root.is_empty()) {
        return Ok(());
    }
    tx.execute(
        "INSERT OR IGNORE INTO seen (host, root, advisory, binary, first_seen, listed, notified_at)
         SELECT ?1, ?2, advisory, binary, first_seen, listed, notified_at
         FROM seen WHERE host = '' AND root = ''",
        params![scope.host, scope.root],
    )?;
    tx.execute("DELETE FROM seen WHERE host = '' AND root = ''", [])?;
    Ok(())
}
