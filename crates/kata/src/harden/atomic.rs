//! Atomic file replacement: temporary file, write, fsync, rename, fsync of the folders.
//!
//! A reader (a Kata shim starting a sandbox) sees either the old file or the complete new one,
//! never a prefix; a crash leaves at most a hidden temporary file, and an error leaves nothing.

use super::error::HardenError;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Mode of every file hvguard writes: Kata runs as root, and the content is not secret.
pub(crate) const FILE_MODE: u32 = 0o644;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Replaces `target` with `bytes`.
///
/// The temporary file is made in `staging` when given (it must be on the same file system as
/// `target`), else beside `target`. hvguard stages drop-ins one folder up because Kata parses
/// every file in `config.d/`, a half-written temporary one included. If the staging folder
/// cannot take the file (read-only, other file system), the write is retried beside `target`.
pub(crate) fn write_atomic(
    target: &Path,
    staging: Option<&Path>,
    bytes: &[u8],
) -> Result<(), HardenError> {
    let (Some(target_dir), Some(name)) = (target.parent(), target.file_name()) else {
        return Err(HardenError::BadConfigPath {
            path: target.to_path_buf(),
        });
    };
    let name = name.to_string_lossy();
    if let Some(staging) = staging.filter(|s| *s != target_dir) {
        match attempt(staging, target_dir, &name, target, bytes) {
            Ok(()) => return Ok(()),
            Err(f) if f.retry_beside_target() => {}
            Err(f) => return Err(f.into_error()),
        }
    }
    attempt(target_dir, target_dir, &name, target, bytes).map_err(Failure::into_error)
}

#[derive(Debug)]
struct Failure {
    path: PathBuf,
    action: &'static str,
    source: io::Error,
    before_rename: bool,
}

impl Failure {
    fn retry_beside_target(&self) -> bool {
        self.before_rename
            && matches!(
                self.source.kind(),
                io::ErrorKind::CrossesDevices
                    | io::ErrorKind::NotFound
                    | io::ErrorKind::PermissionDenied
                    | io::ErrorKind::ReadOnlyFilesystem
            )
    }

    fn into_error(self) -> HardenError {
        HardenError::io(self.path, self.action, self.source)
    }
}

fn attempt(
    staging: &Path,
    target_dir: &Path,
    name: &str,
    target: &Path,
    bytes: &[u8],
) -> Result<(), Failure> {
    let temp = staging.join(temp_name(name));
    let fail = |path: &Path, action, source, before_rename| Failure {
        path: path.to_path_buf(),
        action,
        source,
        before_rename,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(&temp)
        .map_err(|e| fail(staging, "create temporary file", e, true))?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.set_permissions(Permissions::from_mode(FILE_MODE)))
        .and_then(|()| file.sync_all());
    drop(file);
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(fail(&temp, "write temporary file", e, false));
    }
    if let Err(e) = fs::rename(&temp, target) {
        let _ = fs::remove_file(&temp);
        return Err(fail(target, "rename into place", e, true));
    }
    sync_dir(target_dir).map_err(|e| fail(target_dir, "sync folder", e, false))?;
    if staging != target_dir {
        sync_dir(staging).map_err(|e| fail(staging, "sync folder", e, false))?;
    }
    Ok(())
}

/// A hidden, unique name: never `*.toml`, so no discovery mistakes a leftover for a config.
fn temp_name(name: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        ".{name}.hvguard-tmp-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Makes a rename in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn writes_with_mode_0644_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("config.d");
        fs::create_dir(&sub).unwrap();
        let target = sub.join("x.toml");
        write_atomic(&target, Some(dir.path()), b"a = 1\n").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"a = 1\n");
        assert_eq!(
            fs::metadata(&target).unwrap().permissions().mode() & 0o7777,
            0o644
        );
        assert_eq!(names(dir.path()), vec!["config.d"]);
        assert_eq!(names(&sub), vec!["x.toml"]);
    }

    #[test]
    fn failed_rename_removes_the_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("busy");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("keep"), "x").unwrap();
        let err = write_atomic(&target, None, b"a = 1\n").unwrap_err();
        assert!(err.to_string().contains("rename into place"), "{err}");
        assert!(
            err.to_string().starts_with(&target.display().to_string()),
            "{err}"
        );
        assert_eq!(names(dir.path()), vec!["busy"]);
    }

    #[test]
    fn unusable_staging_falls_back_beside_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("x.toml");
        // procfs refuses new files even to root, like a read-only or foreign staging folder.
        write_atomic(&target, Some(Path::new("/proc")), b"b = 2\n").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"b = 2\n");
        assert_eq!(names(dir.path()), vec!["x.toml"]);
    }
}
