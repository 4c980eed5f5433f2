//! The store's writer lock: an exclusive `flock` on `.NAME.lock` beside the store.
//!
//! Every writer holds it for its whole write: `db import`/`db update` (copy, import, rename)
//! and `advisories --new`/`--notify` (read the state, post, record). Without it an update
//! would rename a copy taken before another writer's rows over the store, and two `--notify`
//! runs would each post the same alerts. Readers take no lock: they read either the old or
//! the new file, both complete. The kernel drops a `flock` when its holder dies, so a killed
//! run never leaves the store locked.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::StoreError;

/// How often a waiting writer tries the lock again.
const POLL: Duration = Duration::from_millis(50);

/// A held writer lock; released when dropped.
#[derive(Debug)]
pub struct StoreLock {
    _file: std::fs::File,
    path: PathBuf,
}

impl StoreLock {
    /// Takes the lock of the store at `store`, waiting up to `wait` for another writer to
    /// finish. The store's folder must exist.
    pub fn acquire(store: &Path, wait: Duration) -> Result<StoreLock, StoreError> {
        let path = sibling(store, "lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::io(&path, "creating the store lock", e))?;
        let started = Instant::now();
        loop {
            match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => return Ok(StoreLock { _file: file, path }),
                Err(e) if e == rustix::io::Errno::WOULDBLOCK || e == rustix::io::Errno::INTR => {
                    if started.elapsed() >= wait {
                        return Err(StoreError::Locked {
                            path,
                            waited_ms: wait.as_millis(),
                        });
                    }
                    std::thread::sleep(POLL.min(wait.saturating_sub(started.elapsed())));
                }
                Err(e) => return Err(StoreError::io(&path, "locking the store", e.into())),
            }
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `.NAME.SUFFIX` beside the store.
pub(crate) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "advisories.db".into());
    path.with_file_name(format!(".{name}.{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_waits_then_gives_up_naming_the_lock() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = dir.path().join("advisories.db");
        let held = StoreLock::acquire(&store, Duration::ZERO).unwrap_or_else(|e| panic!("{e}"));
        let started = Instant::now();
        let err = StoreLock::acquire(&store, Duration::from_millis(200))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert!(err.contains(".advisories.db.lock"), "{err}");
        assert!(err.contains("another hvguard"), "{err}");
        drop(held);
        assert!(StoreLock::acquire(&store, Duration::ZERO).is_ok());
    }
}
