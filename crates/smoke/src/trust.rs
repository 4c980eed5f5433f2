//! Refusing to execute code someone else could have put there.
//!
//! `smoke` runs the hypervisor as the caller (root, on a Kata host) and lets it load modules
//! from its module directory. A binary, module or any folder above them that a group or other
//! users can write is code anyone of them chooses; `kata.binary-writable` flags exactly that
//! for Kata's own binaries, and `smoke` will not run such a file. A world-writable folder with
//! the sticky bit (`/tmp`) is accepted when the entry below it is owned by root or the caller,
//! since nobody else may then rename or delete it.

use crate::SmokeError;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

const STICKY: u32 = 0o1000;

fn untrusted(path: &Path, why: String) -> SmokeError {
    SmokeError::Untrusted {
        path: path.to_path_buf(),
        why,
    }
}

fn owner_ok(uid: u32) -> bool {
    uid == 0 || uid == rustix::process::geteuid().as_raw()
}

/// Checks every folder from `/` down to `dir` (already canonical).
fn check_ancestors(dir: &Path) -> Result<(), SmokeError> {
    for ancestor in dir.ancestors().collect::<Vec<_>>().into_iter().rev() {
        let meta = std::fs::metadata(ancestor).map_err(|error| SmokeError::Io {
            path: ancestor.to_path_buf(),
            error,
        })?;
        let mode = meta.permissions().mode();
        if !owner_ok(meta.uid()) {
            return Err(untrusted(
                ancestor,
                format!(
                    "folder owned by uid {}, neither root nor the caller",
                    meta.uid()
                ),
            ));
        }
        // Every folder must belong to root or the caller, so a sticky writable parent (/tmp)
        // cannot have its entry renamed away by anyone else.
        if mode & 0o022 != 0 && mode & STICKY == 0 {
            return Err(untrusted(
                ancestor,
                format!(
                    "folder mode {:04o} lets group or others replace what is inside",
                    mode & 0o7777
                ),
            ));
        }
    }
    Ok(())
}

/// The canonical path of an executable safe to run: a regular, executable file owned by root
/// or the caller, writable by neither group nor others, in folders no one else can change.
pub fn trusted_executable(path: &Path) -> Result<PathBuf, SmokeError> {
    let real = std::fs::canonicalize(path).map_err(|error| SmokeError::MissingFile {
        what: "hypervisor",
        path: path.to_path_buf(),
        error,
    })?;
    let meta = std::fs::metadata(&real).map_err(|error| SmokeError::Io {
        path: real.clone(),
        error,
    })?;
    if !meta.is_file() {
        return Err(untrusted(&real, "not a regular file".into()));
    }
    let mode = meta.permissions().mode();
    if mode & 0o111 == 0 {
        return Err(untrusted(&real, "not executable".into()));
    }
    if mode & 0o022 != 0 {
        return Err(untrusted(
            &real,
            format!(
                "mode {:04o} is writable by group or others (kata.binary-writable)",
                mode & 0o7777
            ),
        ));
    }
    if !owner_ok(meta.uid()) {
        return Err(untrusted(
            &real,
            format!("owned by uid {}, neither root nor the caller", meta.uid()),
        ));
    }
    if let Some(dir) = real.parent() {
        check_ancestors(dir)?;
    }
    Ok(real)
}

/// The canonical path of a module folder safe to load QEMU modules from.
pub fn trusted_dir(path: &Path) -> Result<PathBuf, SmokeError> {
    let real = std::fs::canonicalize(path).map_err(|error| SmokeError::MissingFile {
        what: "module directory",
        path: path.to_path_buf(),
        error,
    })?;
    if !real.is_dir() {
        return Err(untrusted(&real, "not a folder".into()));
    }
    check_ancestors(&real)?;
    Ok(real)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::fs;

    fn exe(dir: &Path, name: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn system_binaries_are_trusted() {
        assert_eq!(
            trusted_executable(Path::new("/bin/true")).unwrap(),
            fs::canonicalize("/bin/true").unwrap()
        );
    }

    #[test]
    fn writable_binary_or_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ok = exe(dir.path(), "qemu", 0o755);
        trusted_executable(&ok).unwrap();
        let bad = exe(dir.path(), "qemu-gw", 0o775);
        let e = trusted_executable(&bad).unwrap_err().to_string();
        assert!(e.contains("writable by group or others"), "{e}");
        let plain = exe(dir.path(), "data", 0o644);
        assert!(trusted_executable(&plain)
            .unwrap_err()
            .to_string()
            .contains("not executable"));

        let open = dir.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
        let inside = exe(&open, "qemu", 0o755);
        let e = trusted_executable(&inside).unwrap_err();
        assert!(
            matches!(e, SmokeError::Untrusted { ref path, .. } if path == &open),
            "{e}"
        );
        assert!(trusted_dir(&open).is_err());
        // A symlink from a safe place does not launder the real location.
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&inside, &link).unwrap();
        assert!(trusted_executable(&link).is_err());
        // Sticky world-writable folders (like /tmp) are fine for entries root owns.
        fs::set_permissions(&open, fs::Permissions::from_mode(0o1777)).unwrap();
        trusted_executable(&inside).unwrap();
    }

    #[test]
    fn missing_files_are_named() {
        let e = trusted_executable(Path::new("/nonexistent/qemu")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/qemu"), "{e}");
    }
}
