//! Scratch folders for `db update` downloads, `.NAME.download-PID` beside the store, and the
//! clean-up of those that killed runs left behind (the OSV and Debian feeds make one over
//! 150 MB). A run locks `.NAME.download-PID.lock` before it makes its folder; the kernel
//! releases the lock of a dead process, so an unlocked folder older than the running process
//! belongs to no live run.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::UpdateError;

/// This run's download folder, `.NAME.download-PID` beside the store (on the same disk,
/// with room for big feeds, unlike a small tmpfs /tmp), and the lock that tells other runs
/// it is alive. Removed, with its lock file, when dropped.
#[derive(Debug)]
pub(crate) struct Scratch {
    /// The folder.
    pub(crate) dir: PathBuf,
    lock_path: PathBuf,
    _lock: std::fs::File,
}

impl Scratch {
    /// Takes this run's lock, then makes its folder.
    pub(crate) fn create(store: &Path) -> Result<Scratch, UpdateError> {
        let dir = scratch_dir(store);
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|cause| UpdateError::Io {
                path: parent.to_path_buf(),
                cause,
            })?;
        }
        // Lock first, then make the folder: another run's clean-up never sees this folder
        // without a held lock beside it.
        let lock_path = lock_of(&dir);
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|cause| UpdateError::Io {
                path: lock_path.clone(),
                cause,
            })?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
            |e| UpdateError::Io {
                path: lock_path.clone(),
                cause: e.into(),
            },
        )?;
        // A folder with our PID is a dead run's (PIDs are reused): it holds nothing of ours.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).map_err(|cause| UpdateError::Io {
            path: dir.clone(),
            cause,
        })?;
        Ok(Scratch {
            dir,
            lock_path,
            _lock: lock,
        })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Best effort: the downloads are only scratch copies, and the next run removes
        // whatever is left.
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(&self.lock_path);
    }
}

/// `.NAME.download-PID` beside the store.
fn scratch_dir(store: &Path) -> PathBuf {
    store.with_file_name(format!("{}{}", download_prefix(store), std::process::id()))
}

fn download_prefix(store: &Path) -> String {
    let name = store
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "advisories.db".into());
    format!(".{name}.download-")
}

/// The lock file that marks a download folder as in use.
fn lock_of(dir: &Path) -> PathBuf {
    let mut name = dir.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Removes the download folders of runs that are gone: older than `started` (a folder
/// made after this process started may be a live run's that has not locked it yet) and
/// whose lock no live run holds (the kernel drops a dead process's lock). Symbolic links and
/// other files by that name are left alone. Returns what was removed.
pub(crate) fn remove_stale_downloads(store: &Path, started: SystemTime) -> Vec<PathBuf> {
    let prefix = download_prefix(store);
    let folder = match store.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => dir.to_path_buf(),
        None => PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(&folder) else {
        return Vec::new();
    };
    let own = scratch_dir(store);
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !name.starts_with(&prefix) {
            continue;
        }
        if name.ends_with(".lock") {
            remove_orphan_lock(&entry.path(), started);
            continue;
        }
        let dir = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&dir) else {
            continue;
        };
        let old = meta.modified().is_ok_and(|m| m < started);
        if dir == own || !meta.is_dir() || !old {
            continue;
        }
        let Some(held) = claim(&lock_of(&dir)) else {
            continue;
        };
        if std::fs::remove_dir_all(&dir).is_ok() {
            removed.push(dir.clone());
        }
        if held.is_some() {
            let _ = std::fs::remove_file(lock_of(&dir));
        }
    }
    removed
}

/// A lock file whose folder is gone (a run killed between removing the two): removed when
/// old and not held.
fn remove_orphan_lock(lock: &Path, started: SystemTime) {
    let folder = lock.with_extension("");
    let old = std::fs::symlink_metadata(lock)
        .is_ok_and(|m| m.is_file() && m.modified().is_ok_and(|t| t < started));
    if !old || folder.symlink_metadata().is_ok() {
        return;
    }
    if let Some(Some(_held)) = claim(lock) {
        let _ = std::fs::remove_file(lock);
    }
}

/// Takes the lock at `path` if no live run holds it: `Some(Some(file))` when taken,
/// `Some(None)` when there is no lock file (a folder from an hvguard that kept none),
/// `None` when a live run holds it.
fn claim(path: &Path) -> Option<Option<std::fs::File>> {
    let file = match std::fs::OpenOptions::new().write(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(None),
        Err(_) => return None,
    };
    rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
        .ok()
        .map(|()| Some(file))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn dated(path: &Path, when: SystemTime) {
        std::fs::File::open(path)
            .and_then(|f| f.set_modified(when))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    #[test]
    fn only_old_unlocked_download_folders_are_removed() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = dir.path().join("advisories.db");
        let started = SystemTime::now();
        let hour_ago = started - Duration::from_secs(3600);
        let make = |pid: u32, when: SystemTime| {
            let folder = dir.path().join(format!(".advisories.db.download-{pid}"));
            std::fs::create_dir(&folder).unwrap_or_else(|e| panic!("{e}"));
            dated(&folder, when);
            folder
        };
        let dead = make(11, hour_ago);
        // Made after this process started: maybe a live run that has not locked it yet.
        let young = make(12, started + Duration::from_secs(5));
        // A run killed between removing its folder and its lock file.
        let orphan = dir.path().join(".advisories.db.download-13.lock");
        std::fs::write(&orphan, "").unwrap_or_else(|e| panic!("{e}"));
        dated(&orphan, hour_ago);
        // Not a folder: a link by that name is never followed nor removed.
        let link = dir.path().join(".advisories.db.download-14");
        std::os::unix::fs::symlink(dir.path(), &link).unwrap_or_else(|e| panic!("{e}"));

        let removed = remove_stale_downloads(&store, started);
        assert_eq!(removed, vec![dead.clone()]);
        assert!(!dead.exists() && young.exists() && !orphan.exists());
        assert!(link.symlink_metadata().is_ok() && store.parent().is_some_and(Path::exists));
    }
}
