//! The update journal: tables in the advisory store (`update_*`, created on first use) that
//! record every transaction before each stage runs, so that the next run can tell an
//! interrupted transaction from a finished one and undo it.
//!
//! Writes go through [`Store::write_locked`], so a concurrent `db update` (which copies the
//! store and renames the copy over it) can never drop a journal row.

use std::path::{Path, PathBuf};

use hvguard_advisory::store::{journal_lock_wait, Store, StoreError};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::result::{ComponentChange, Outcome};
use crate::UpdateError;

const CREATE: &str = "
CREATE TABLE IF NOT EXISTS update_transactions (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    result TEXT,
    pid INTEGER NOT NULL,
    artifact_dir TEXT
);
CREATE TABLE IF NOT EXISTS update_components (
    tx TEXT NOT NULL, package TEXT NOT NULL, from_version TEXT NOT NULL, to_version TEXT NOT NULL,
    PRIMARY KEY (tx, package)
);
CREATE TABLE IF NOT EXISTS update_stages (
    tx TEXT NOT NULL, seq INTEGER NOT NULL, name TEXT NOT NULL, state TEXT NOT NULL,
    started_at TEXT NOT NULL, ms INTEGER, detail TEXT,
    PRIMARY KEY (tx, seq)
);
CREATE TABLE IF NOT EXISTS update_artifacts (
    tx TEXT NOT NULL, package TEXT NOT NULL, version TEXT NOT NULL, arch TEXT NOT NULL,
    path TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
    PRIMARY KEY (tx, package)
);
";

/// A saved package file, as the journal records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ArtifactRecord {
    pub package: String,
    pub version: String,
    pub arch: String,
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
}

/// One stage as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageRecord {
    pub seq: u32,
    pub name: String,
    /// `started`, `ok`, `failed`, `skipped`.
    pub state: String,
    pub started_at: String,
    pub ms: Option<u64>,
    pub detail: Option<String>,
}

/// One transaction with everything recorded about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TxRecord {
    pub id: String,
    /// `apply`, `rollback`, `drill`, `kata-apply`, `kata-rollback`.
    pub kind: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub result: Option<String>,
    pub pid: u32,
    pub artifact_dir: Option<PathBuf>,
    pub components: Vec<ComponentChange>,
    pub stages: Vec<StageRecord>,
    pub artifacts: Vec<ArtifactRecord>,
}

impl TxRecord {
    /// Not finished, and its process is gone: killed or crashed mid-way.
    pub fn is_interrupted(&self) -> bool {
        self.finished_at.is_none() && !process_alive(self.pid)
    }

    /// The last stage that started and never finished, if any.
    pub fn open_stage(&self) -> Option<&StageRecord> {
        self.stages.iter().rev().find(|s| s.state == "started")
    }
}

fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    rustix::process::Pid::from_raw(pid as i32)
        .is_some_and(|p| rustix::process::test_kill_process(p).is_ok())
}

fn now() -> String {
    let now = jiff::Timestamp::now();
    now.round(jiff::Unit::Second).unwrap_or(now).to_string()
}

/// The journal of one store file.
#[derive(Debug)]
pub struct Journal {
    store: Store,
}

fn sql<'a>(path: &'a Path, what: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + 'a {
    move |e| StoreError::Sqlite {
        path: path.to_path_buf(),
        message: what.to_owned(),
        cause: e,
    }
}

impl Journal {
    /// Opens (creating when needed) the store at `path` for journalling.
    pub fn open(path: &Path) -> Result<Journal, UpdateError> {
        let mut store = Store::open_or_create(path)?;
        store.write_locked(journal_lock_wait(), |tx, path| {
            tx.execute_batch(CREATE)
                .map_err(sql(path, "creating the update journal tables"))
        })?;
        Ok(Journal { store })
    }

    fn write<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction<'_>, &Path) -> Result<T, StoreError>,
    ) -> Result<T, UpdateError> {
        Ok(self.store.write_locked(journal_lock_wait(), f)?)
    }

    /// Opens a transaction; returns its id.
    pub fn begin(
        &mut self,
        kind: &str,
        components: &[ComponentChange],
        artifact_dir: Option<&Path>,
    ) -> Result<String, UpdateError> {
        let started = jiff::Timestamp::now();
        let id = format!(
            "{}-{}",
            started.strftime("%Y%m%dT%H%M%S%.3fZ"),
            std::process::id()
        );
        let id_copy = id.clone();
        self.write(|tx, path| {
            tx.execute(
                "INSERT INTO update_transactions (id, kind, started_at, pid, artifact_dir)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    id_copy,
                    kind,
                    now(),
                    std::process::id(),
                    artifact_dir.map(|p| p.display().to_string())
                ],
            )
            .map_err(sql(path, "opening a transaction"))?;
            for c in components {
                tx.execute(
                    "INSERT OR REPLACE INTO update_components (tx, package, from_version, to_version)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![id_copy, c.package, c.from, c.to],
                )
                .map_err(sql(path, "recording a component"))?;
            }
            Ok(())
        })?;
        Ok(id)
    }

    /// Records that stage `name` starts; returns its sequence number.
    pub fn stage_started(&mut self, tx_id: &str, name: &str) -> Result<u32, UpdateError> {
        self.write(|tx, path| {
            let seq: i64 = tx
                .query_row(
                    "SELECT COALESCE(MAX(seq), 0) + 1 FROM update_stages WHERE tx = ?1",
                    [tx_id],
                    |r| r.get(0),
                )
                .map_err(sql(path, "numbering a stage"))?;
            tx.execute(
                "INSERT INTO update_stages (tx, seq, name, state, started_at) VALUES (?1, ?2, ?3, 'started', ?4)",
                params![tx_id, seq, name, now()],
            )
            .map_err(sql(path, "recording a stage"))?;
            Ok(u32::try_from(seq).unwrap_or(u32::MAX))
        })
    }

    /// Records how stage `seq` ended (`ok`, `failed` or `skipped`).
    pub fn stage_finished(
        &mut self,
        tx_id: &str,
        seq: u32,
        state: &str,
        ms: u64,
        detail: &str,
    ) -> Result<(), UpdateError> {
        self.write(|tx, path| {
            tx.execute(
                "UPDATE update_stages SET state = ?3, ms = ?4, detail = ?5 WHERE tx = ?1 AND seq = ?2",
                params![tx_id, seq, state, ms as i64, detail],
            )
            .map_err(sql(path, "recording a stage's end"))?;
            Ok(())
        })
    }

    /// Records the saved artifacts of a transaction.
    pub fn add_artifacts(
        &mut self,
        tx_id: &str,
        dir: &Path,
        artifacts: &[ArtifactRecord],
    ) -> Result<(), UpdateError> {
        self.write(|tx, path| {
            tx.execute(
                "UPDATE update_transactions SET artifact_dir = ?2 WHERE id = ?1",
                params![tx_id, dir.display().to_string()],
            )
            .map_err(sql(path, "recording the artifact folder"))?;
            for a in artifacts {
                tx.execute(
                    "INSERT OR REPLACE INTO update_artifacts (tx, package, version, arch, path, sha256, size)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        tx_id,
                        a.package,
                        a.version,
                        a.arch,
                        a.path.display().to_string(),
                        a.sha256,
                        a.size as i64
                    ],
                )
                .map_err(sql(path, "recording an artifact"))?;
            }
            Ok(())
        })
    }

    /// Closes a transaction with its outcome.
    pub fn finish(&mut self, tx_id: &str, outcome: Outcome) -> Result<(), UpdateError> {
        self.write(|tx, path| {
            tx.execute(
                "UPDATE update_transactions SET finished_at = ?2, result = ?3 WHERE id = ?1",
                params![tx_id, now(), outcome.as_str()],
            )
            .map_err(sql(path, "closing a transaction"))?;
            Ok(())
        })
    }

    /// Marks an interrupted transaction as closed by a later recovery.
    pub fn close_interrupted(&mut self, tx_id: &str, note: &str) -> Result<(), UpdateError> {
        self.write(|tx, path| {
            tx.execute(
                "UPDATE update_transactions SET finished_at = ?2, result = ?3 WHERE id = ?1 AND finished_at IS NULL",
                params![tx_id, now(), format!("interrupted; {note}")],
            )
            .map_err(sql(path, "closing an interrupted transaction"))?;
            Ok(())
        })
    }

    /// Every transaction, newest first.
    pub fn transactions(&self) -> Result<Vec<TxRecord>, UpdateError> {
        read_transactions(self.store.connection(), self.store.path())
    }
}

/// Reads the journal of the store at `path` without creating anything: a missing store or
/// one without journal tables has no transactions.
pub fn read_journal(path: &Path) -> Result<Vec<TxRecord>, UpdateError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let store = Store::open_readonly(path)?;
    read_transactions(store.connection(), path)
}

/// How the newest finished `apply` (packaged or static Kata) ended, as the journal recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedApply {
    pub id: String,
    /// `apply` or `kata-apply`.
    pub kind: String,
    /// [`Outcome::as_str`], or `interrupted; ...` for one a later recovery closed.
    pub result: String,
    pub finished_at: jiff::Timestamp,
}

/// The newest finished `apply`/`kata-apply` transaction of the store at `path`, read with one
/// query and without creating anything (`scan`'s metrics call it on every run). Drills and
/// rollbacks are not updates: a drill ends rolled back by design. `None` without a store, a
/// journal, or a finished apply.
pub fn last_finished_apply(path: &Path) -> Result<Option<FinishedApply>, UpdateError> {
    if !path.exists() {
        return Ok(None);
    }
    let store = Store::open_readonly(path)?;
    let conn = store.connection();
    let err = sql(path, "reading the update journal");
    let has: Option<String> = conn
        .query_row(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'update_transactions'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(&err)?;
    if has.is_none() {
        return Ok(None);
    }
    let row: Option<(String, String, String, String)> = conn
        .query_row(
            "SELECT id, kind, result, finished_at FROM update_transactions
             WHERE finished_at IS NOT NULL AND result IS NOT NULL AND kind IN ('apply', 'kata-apply')
             ORDER BY finished_at DESC, id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()
        .map_err(&err)?;
    let Some((id, kind, result, finished_at)) = row else {
        return Ok(None);
    };
    let finished_at = finished_at.parse::<jiff::Timestamp>().map_err(|e| {
        UpdateError::Input(format!(
            "{}: transaction {id} has an unreadable finish time {finished_at:?}: {e}",
            path.display()
        ))
    })?;
    Ok(Some(FinishedApply {
        id,
        kind,
        result,
        finished_at,
    }))
}

fn read_transactions(conn: &Connection, path: &Path) -> Result<Vec<TxRecord>, UpdateError> {
    let has: Option<String> = conn
        .query_row(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'update_transactions'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql(path, "reading the update journal"))?;
    if has.is_none() {
        return Ok(Vec::new());
    }
    let err = sql(path, "reading the update journal");
    let mut stmt = conn
        .prepare(
            "SELECT id, kind, started_at, finished_at, result, pid, artifact_dir
             FROM update_transactions ORDER BY started_at DESC, id DESC",
        )
        .map_err(&err)?;
    let mut txs: Vec<TxRecord> = stmt
        .query_map([], |r| {
            Ok(TxRecord {
                id: r.get(0)?,
                kind: r.get(1)?,
                started_at: r.get(2)?,
                finished_at: r.get(3)?,
                result: r.get(4)?,
                pid: u32::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
                artifact_dir: r.get::<_, Option<String>>(6)?.map(PathBuf::from),
                components: Vec::new(),
                stages: Vec::new(),
                artifacts: Vec::new(),
            })
        })
        .map_err(&err)?
        .collect::<Result<_, _>>()
        .map_err(&err)?;
    let mut components = conn
        .prepare("SELECT package, from_version, to_version FROM update_components WHERE tx = ?1 ORDER BY package")
        .map_err(&err)?;
    let mut stages = conn
        .prepare("SELECT seq, name, state, started_at, ms, detail FROM update_stages WHERE tx = ?1 ORDER BY seq")
        .map_err(&err)?;
    let mut artifacts = conn
        .prepare("SELECT package, version, arch, path, sha256, size FROM update_artifacts WHERE tx = ?1 ORDER BY package")
        .map_err(&err)?;
    for tx in &mut txs {
        tx.components = components
            .query_map([&tx.id], |r| {
                Ok(ComponentChange {
                    package: r.get(0)?,
                    from: r.get(1)?,
                    to: r.get(2)?,
                })
            })
            .map_err(&err)?
            .collect::<Result<_, _>>()
            .map_err(&err)?;
        tx.stages = stages
            .query_map([&tx.id], |r| {
                Ok(StageRecord {
                    seq: u32::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                    name: r.get(1)?,
                    state: r.get(2)?,
                    started_at: r.get(3)?,
                    ms: r
                        .get::<_, Option<i64>>(4)?
                        .and_then(|v| u64::try_from(v).ok()),
                    detail: r.get(5)?,
                })
            })
            .map_err(&err)?
            .collect::<Result<_, _>>()
            .map_err(&err)?;
        tx.artifacts = artifacts
            .query_map([&tx.id], |r| {
                Ok(ArtifactRecord {
                    package: r.get(0)?,
                    version: r.get(1)?,
                    arch: r.get(2)?,
                    path: PathBuf::from(r.get::<_, String>(3)?),
                    sha256: r.get(4)?,
                    size: u64::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
                })
            })
            .map_err(&err)?
            .collect::<Result<_, _>>()
            .map_err(&err)?;
    }
    Ok(txs)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_transaction_round_trip_and_an_interrupted_one() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("advisories.db");
        assert!(read_journal(&db).unwrap().is_empty());
        let mut j = Journal::open(&db).unwrap();
        let change = ComponentChange {
            package: "qemu-system-x86".into(),
            from: "1".into(),
            to: "2".into(),
        };
        let tx = j
            .begin("apply", std::slice::from_ref(&change), None)
            .unwrap();
        let s = j.stage_started(&tx, "preflight").unwrap();
        j.stage_finished(&tx, s, "ok", 3, "fine").unwrap();
        let s2 = j.stage_started(&tx, "install").unwrap();
        assert_eq!(s2, 2);
        j.add_artifacts(
            &tx,
            dir.path(),
            &[ArtifactRecord {
                package: "qemu-system-x86".into(),
                version: "1".into(),
                arch: "amd64".into(),
                path: dir.path().join("x.deb"),
                sha256: "00".into(),
                size: 1,
            }],
        )
        .unwrap();
        drop(j);
        let txs = read_journal(&db).unwrap();
        assert_eq!(txs.len(), 1);
        let t = &txs[0];
        assert_eq!(t.components, vec![change]);
        assert_eq!(t.open_stage().unwrap().name, "install");
        // Our own pid is alive: not interrupted while we run.
        assert!(!t.is_interrupted());
        let mut dead = t.clone();
        dead.pid = u32::MAX / 2;
        assert!(dead.is_interrupted());
        let mut j = Journal::open(&db).unwrap();
        assert_eq!(last_finished_apply(&db).unwrap(), None);
        j.finish(&tx, Outcome::Updated).unwrap();
        let t = &j.transactions().unwrap()[0];
        assert_eq!(t.result.as_deref(), Some("updated"));
        assert!(t.finished_at.is_some());
        let last = last_finished_apply(&db).unwrap().unwrap();
        assert_eq!(
            (last.id.as_str(), last.result.as_str()),
            (tx.as_str(), "updated")
        );
    }

    #[test]
    fn the_last_apply_ignores_drills_and_rollbacks() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("advisories.db");
        assert_eq!(last_finished_apply(&db).unwrap(), None);
        let mut j = Journal::open(&db).unwrap();
        let apply = j.begin("kata-apply", &[], None).unwrap();
        j.finish(&apply, Outcome::Refused).unwrap();
        // Finished after it, but neither is an update.
        for kind in ["drill", "rollback"] {
            let tx = j.begin(kind, &[], None).unwrap();
            j.finish(&tx, Outcome::RolledBack).unwrap();
        }
        let last = last_finished_apply(&db).unwrap().unwrap();
        assert_eq!(last.id, apply);
        assert_eq!(last.kind, "kata-apply");
        assert_eq!(last.result, "refused");
        // Recorded to the second, rounded.
        let off = jiff::Timestamp::now().duration_since(last.finished_at);
        assert!(off.abs() <= jiff::SignedDuration::from_secs(2), "{off:?}");
    }

    /// `db export` must know the journal is this node's own (never shipped to the fleet,
    /// kept when the node takes a snapshot): a journal table added here fails this test
    /// until it is classified in hvguard_advisory::store::export::tables.
    #[test]
    fn journal_tables_are_classified_node_local() {
        use hvguard_advisory::store::export::tables::{classify, tables, TableClass};
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("advisories.db");
        let j = Journal::open(&db).unwrap();
        let names = tables(j.store.connection(), "main", &db).unwrap();
        let journal: Vec<&String> = names.iter().filter(|t| t.starts_with("update_")).collect();
        assert_eq!(
            journal.len(),
            CREATE.matches("CREATE TABLE").count(),
            "{names:?}"
        );
        for t in names {
            let class = classify(&t);
            assert!(
                class == TableClass::NodeLocal || class == TableClass::Fleet,
                "{t} is not classified for db export"
            );
            if t.starts_with("update_") {
                assert_eq!(class, TableClass::NodeLocal, "{t}");
            }
        }
    }
}
