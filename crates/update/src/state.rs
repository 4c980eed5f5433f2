//! Where `hvguard update` keeps its files: one state folder (default `/var/lib/hvguard`)
//! holding the update lock, the staging area and the rollback artifacts.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::UpdateError;

/// The default state folder.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/hvguard";

/// The state folder and the paths inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDirs {
    pub base: PathBuf,
}

impl Default for StateDirs {
    fn default() -> Self {
        StateDirs {
            base: PathBuf::from(DEFAULT_STATE_DIR),
        }
    }
}

impl StateDirs {
    pub fn new(base: impl Into<PathBuf>) -> Self {
        StateDirs { base: base.into() }
    }

    /// One saved set of `.deb`s per transaction: `rollback/<transaction>/`.
    pub fn rollback(&self) -> PathBuf {
        self.base.join("rollback")
    }

    /// Downloaded and unpacked candidates: `staging/<transaction>/`.
    pub fn staging(&self) -> PathBuf {
        self.base.join("staging")
    }

    /// The update lock.
    pub fn lock(&self) -> PathBuf {
        self.base.join("update.lock")
    }
}

/// Creates `dir` (and parents) readable by root only: it holds packages about to be
/// installed, which nobody else may swap.
pub fn private_dir(dir: &Path) -> Result<(), UpdateError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| UpdateError::io(dir, "creating a private folder", e))
}

/// SHA-256 of a file, streamed, as lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String, UpdateError> {
    use std::io::Read;
    let mut file =
        std::fs::File::open(path).map_err(|e| UpdateError::io(path, "hashing the file", e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| UpdateError::io(path, "hashing the file", e))?;
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

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, flushed, then
/// renamed over the target.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), UpdateError> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&temp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&temp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        UpdateError::io(path, "writing", e)
    })
}

/// Free bytes for unprivileged use on the file system holding `path` (or its nearest
/// existing parent).
pub fn free_bytes(path: &Path) -> Result<u64, UpdateError> {
    let mut probe = path;
    while !probe.exists() {
        match probe.parent() {
            Some(p) => probe = p,
            None => break,
        }
    }
    let st = rustix::fs::statvfs(probe)
        .map_err(|e| UpdateError::io(probe, "reading free space", e.into()))?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_hash_and_space() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.json");
        write_atomic(&f, b"abc").unwrap();
        assert_eq!(
            sha256_file(&f).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(free_bytes(&dir.path().join("not/yet/there")).unwrap() > 0);
        private_dir(&dir.path().join("p/q")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("p/q"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
