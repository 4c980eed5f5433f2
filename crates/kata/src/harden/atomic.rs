//! Atomic file replacement through directory descriptors: temporary file, write, fsync,
//! rename, fsync of the folders.
//!
//! A reader (a Kata shim starting a sandbox) sees either the old file or the complete new one,
//! never a prefix; a crash leaves at most a hidden temporary file, and an error leaves nothing.
//! The temporary file is created with `openat(O_CREAT | O_EXCL | O_NOFOLLOW)` and renamed with
//! `renameat` relative to the folders' descriptors, so the file lands in the folder that was
//! checked whatever happens to the path that leads there.

use super::error::HardenError;
use super::paths::as_io;
use hvguard_core::{RootDir, RootError};
use std::ffi::OsStr;
use std::fs::Permissions;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Mode of every file hvguard writes: Kata runs as root, and the content is not secret.
pub(crate) const FILE_MODE: u32 = 0o644;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Replaces `name` in `dir` with `bytes`.
///
/// The temporary file is made in `staging` when given (it must be on the same file system as
/// `dir`), else in `dir`. hvguard stages drop-ins one folder up because Kata parses every file
/// in `config.d/`, a half-written temporary one included. If the staging folder cannot take
/// the file (read-only, other file system), the write is retried in `dir`.
pub(crate) fn write_atomic(
    dir: &RootDir,
    name: &str,
    staging: Option<&RootDir>,
    bytes: &[u8],
) -> Result<(), HardenError> {
    if let Some(staging) = staging {
        match attempt(staging, dir, name, bytes) {
            Ok(()) => return Ok(()),
            Err(f) if f.retry_beside_target() => {}
            Err(f) => return Err(f.error),
        }
    }
    attempt(dir, dir, name, bytes).map_err(|f| f.error)
}

#[derive(Debug)]
struct Failure {
    error: HardenError,
    kind: Option<io::ErrorKind>,
    before_rename: bool,
}

impl Failure {
    fn new(e: RootError, path: PathBuf, action: &'static str, before_rename: bool) -> Self {
        let kind = match &e {
            RootError::Io { cause, .. } => Some(cause.kind()),
            _ => None,
        };
        Failure {
            error: as_io(e, &path, action),
            kind,
            before_rename,
        }
    }

    fn retry_beside_target(&self) -> bool {
        self.before_rename
            && matches!(
                self.kind,
                Some(
                    io::ErrorKind::CrossesDevices
                        | io::ErrorKind::NotFound
                        | io::ErrorKind::PermissionDenied
                        | io::ErrorKind::ReadOnlyFilesystem
                )
            )
    }
}

fn attempt(staging: &RootDir, dir: &RootDir, name: &str, bytes: &[u8]) -> Result<(), Failure> {
    let temp = temp_name(name);
    let temp = OsStr::new(&temp);
    let mut file = staging.create_new(temp, FILE_MODE).map_err(|e| {
        // The folder, not the temporary name, is what could not take the file.
        Failure::new(
            e,
            staging.host_path().to_path_buf(),
            "create temporary file",
            true,
        )
    })?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.set_permissions(Permissions::from_mode(FILE_MODE)))
        .and_then(|()| file.sync_all());
    drop(file);
    if let Err(e) = written {
        let _ = staging.remove_file(temp);
        return Err(Failure {
            error: HardenError::io(staging.entry_path(temp), "write temporary file", e),
            kind: None,
            before_rename: false,
        });
    }
    if let Err(e) = staging.rename(temp, dir, OsStr::new(name)) {
        let _ = staging.remove_file(temp);
        let target = dir.entry_path(OsStr::new(name));
        return Err(Failure::new(e, target, "rename into place", true));
    }
    let sync = |d: &RootDir| {
        d.sync()
            .map_err(|e| Failure::new(e, d.host_path().to_path_buf(), "sync folder", false))
    };
    sync(dir)?;
    if !std::ptr::eq(staging, dir) {
        sync(staging)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use hvguard_core::HostRoot;
    use std::fs;
    use std::path::Path;

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
        fs::create_dir(dir.path().join("config.d")).unwrap();
        let root = HostRoot::new(dir.path()).unwrap();
        let top = root.open_dir("/").unwrap();
        let sub = root.open_dir("/config.d").unwrap();
        write_atomic(&sub, "x.toml", Some(&top), b"a = 1\n").unwrap();
        let target = dir.path().join("config.d/x.toml");
        assert_eq!(fs::read(&target).unwrap(), b"a = 1\n");
        assert_eq!(
            fs::metadata(&target).unwrap().permissions().mode() & 0o7777,
            0o644
        );
        assert_eq!(names(dir.path()), vec!["config.d"]);
        assert_eq!(names(&dir.path().join("config.d")), vec!["x.toml"]);
    }

    #[test]
    fn failed_rename_removes_the_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("busy");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("keep"), "x").unwrap();
        let root = HostRoot::new(dir.path()).unwrap();
        let top = root.open_dir("/").unwrap();
        let err = write_atomic(&top, "busy", None, b"a = 1\n").unwrap_err();
        assert!(err.to_string().contains("rename into place"), "{err}");
        assert!(err.to_string().starts_with("/busy: "), "{err}");
        assert_eq!(names(dir.path()), vec!["busy"]);
    }

    #[test]
    fn unusable_staging_falls_back_beside_target() {
        let dir = tempfile::tempdir().unwrap();
        let root = HostRoot::new(dir.path()).unwrap();
        let top = root.open_dir("/").unwrap();
        // procfs refuses new files even to root, like a read-only or foreign staging folder.
        let proc = HostRoot::live().open_dir("/proc").unwrap();
        write_atomic(&top, "x.toml", Some(&proc), b"b = 2\n").unwrap();
        assert_eq!(fs::read(dir.path().join("x.toml")).unwrap(), b"b = 2\n");
        assert_eq!(names(dir.path()), vec!["x.toml"]);
    }
}
