//! `HostRoot`: every read of the host goes through here.
//!
//! A root is `/` (the live host) or a directory holding a host image or a test fixture.
//! Paths are always given as the host would see them (`/proc/cpuinfo`) and are resolved
//! *inside* the root the way a chroot would: an absolute symlink target is re-rooted, `..`
//! never climbs above the root. Reads are bounded so that a hostile or huge file cannot
//! exhaust memory. Nothing here ever executes a file.

use std::ffi::OsString;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

/// Linux's own limit on symlinks followed in one lookup (`MAXSYMLINKS`).
const MAX_SYMLINK_HOPS: usize = 40;

/// Default ceiling for small text reads (sysfs, procfs, config files).
pub const SMALL_READ_LIMIT: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum RootError {
    #[error("{path}: root directory does not exist")]
    MissingRoot { path: PathBuf },
    #[error("{path}: root is not a directory")]
    RootNotADirectory { path: PathBuf },
    #[error("{path}: too many levels of symbolic links")]
    SymlinkLoop { path: PathBuf },
    #[error("{path}: file is larger than the {limit}-byte limit")]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("{path}: is a directory, expected a file")]
    IsADirectory { path: PathBuf },
    #[error("{path}: not a regular file (device, FIFO or socket)")]
    NotARegularFile { path: PathBuf },
    #[error("{path}: not valid UTF-8 text")]
    NotText { path: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl RootError {
    /// The host path (as seen inside the root) this error is about.
    pub fn path(&self) -> &Path {
        match self {
            RootError::MissingRoot { path }
            | RootError::RootNotADirectory { path }
            | RootError::SymlinkLoop { path }
            | RootError::TooLarge { path, .. }
            | RootError::IsADirectory { path }
            | RootError::NotARegularFile { path }
            | RootError::NotText { path }
            | RootError::Io { path, .. } => path,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, RootError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }

    pub fn is_permission_denied(&self) -> bool {
        matches!(self, RootError::Io { source, .. } if source.kind() == io::ErrorKind::PermissionDenied)
    }
}

#[derive(Debug, Clone)]
pub struct HostRoot {
    base: PathBuf,
    live: bool,
}

impl HostRoot {
    /// The live host, `/`.
    pub fn live() -> Self {
        HostRoot {
            base: PathBuf::from("/"),
            live: true,
        }
    }

    /// A root directory. `/` (or anything that canonicalises to it) is the live host.
    pub fn new(dir: impl AsRef<Path>) -> Result<Self, RootError> {
        let dir = dir.as_ref();
        let meta = fs::metadata(dir).map_err(|source| {
            if source.kind() == io::ErrorKind::NotFound {
                RootError::MissingRoot {
                    path: dir.to_path_buf(),
                }
            } else {
                RootError::Io {
                    path: dir.to_path_buf(),
                    source,
                }
            }
        })?;
        if !meta.is_dir() {
            return Err(RootError::RootNotADirectory {
                path: dir.to_path_buf(),
            });
        }
        let base = fs::canonicalize(dir).map_err(|source| RootError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let live = base == Path::new("/");
        Ok(HostRoot { base, live })
    }

    /// True when this is the running host, where live-only checks (ioctls, `--version`) apply.
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// The directory on this machine that stands for `/`.
    pub fn base(&self) -> &Path {
        &self.base
    }

    /// Where `host_path` really is on this machine, with every symlink resolved inside the root.
    ///
    /// Components that do not exist are appended as they are, so the caller's read reports
    /// "not found" for the right path.
    pub fn resolve(&self, host_path: impl AsRef<Path>) -> Result<PathBuf, RootError> {
        let host_path = host_path.as_ref();
        if self.live {
            // The kernel's own lookup cannot leave `/`.
            return Ok(Path::new("/").join(host_path));
        }
        let mut pending: Vec<OsString> = Vec::new();
        push_components(&mut pending, host_path);
        pending.reverse();
        let mut inside: Vec<OsString> = Vec::new();
        let mut hops = 0usize;
        while let Some(part) = pending.pop() {
            if part == ".." {
                inside.pop();
                continue;
            }
            let candidate = self.join(&inside).join(&part);
            match fs::symlink_metadata(&candidate) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    hops += 1;
                    if hops > MAX_SYMLINK_HOPS {
                        return Err(RootError::SymlinkLoop {
                            path: host_path.to_path_buf(),
                        });
                    }
                    let target = fs::read_link(&candidate).map_err(|source| RootError::Io {
                        path: host_path.to_path_buf(),
                        source,
                    })?;
                    if target.is_absolute() {
                        inside.clear();
                    }
                    let mut target_parts = Vec::new();
                    push_components(&mut target_parts, &target);
                    pending.extend(target_parts.into_iter().rev());
                }
                _ => inside.push(part),
            }
        }
        Ok(self.join(&inside))
    }

    fn join(&self, parts: &[OsString]) -> PathBuf {
        let mut p = self.base.clone();
        for part in parts {
            p.push(part);
        }
        p
    }

    fn io_error(host_path: &Path, source: io::Error) -> RootError {
        RootError::Io {
            path: host_path.to_path_buf(),
            source,
        }
    }

    /// Metadata of what `host_path` points to (symlinks followed inside the root).
    pub fn metadata(&self, host_path: impl AsRef<Path>) -> Result<Metadata, RootError> {
        let host_path = host_path.as_ref();
        let real = self.resolve(host_path)?;
        fs::metadata(&real).map_err(|e| Self::io_error(host_path, e))
    }

    /// Metadata of `host_path` itself (a final symlink is not followed).
    pub fn symlink_metadata(&self, host_path: impl AsRef<Path>) -> Result<Metadata, RootError> {
        let host_path = host_path.as_ref();
        let real = match (host_path.parent(), host_path.file_name()) {
            (Some(parent), Some(name)) => self.resolve(parent)?.join(name),
            _ => self.resolve(host_path)?,
        };
        fs::symlink_metadata(&real).map_err(|e| Self::io_error(host_path, e))
    }

    pub fn exists(&self, host_path: impl AsRef<Path>) -> bool {
        self.metadata(host_path).is_ok()
    }

    /// Opens a regular file for streaming reads.
    pub fn open_file(&self, host_path: impl AsRef<Path>) -> Result<(File, Metadata), RootError> {
        let host_path = host_path.as_ref();
        let real = self.resolve(host_path)?;
        // O_NONBLOCK: a FIFO planted under --root must not hang the scan. Regular, procfs
        // and sysfs files ignore the flag.
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&real)
            .map_err(|e| Self::io_error(host_path, e))?;
        let meta = file.metadata().map_err(|e| Self::io_error(host_path, e))?;
        if meta.is_dir() {
            return Err(RootError::IsADirectory {
                path: host_path.to_path_buf(),
            });
        }
        if !meta.is_file() {
            return Err(RootError::NotARegularFile {
                path: host_path.to_path_buf(),
            });
        }
        Ok((file, meta))
    }

    /// Reads at most `limit` bytes; a longer file is an error, not a silent truncation.
    pub fn read_bytes(
        &self,
        host_path: impl AsRef<Path>,
        limit: u64,
    ) -> Result<Vec<u8>, RootError> {
        let host_path = host_path.as_ref();
        let (file, meta) = self.open_file(host_path)?;
        // sysfs reports 4096 for every attribute, so the length is only a capacity hint.
        let hint = meta.len().min(limit) as usize;
        let mut buf = Vec::with_capacity(hint.min(1 << 16));
        file.take(limit + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Self::io_error(host_path, e))?;
        if buf.len() as u64 > limit {
            return Err(RootError::TooLarge {
                path: host_path.to_path_buf(),
                limit,
            });
        }
        Ok(buf)
    }

    /// Reads a UTF-8 text file of at most `limit` bytes.
    pub fn read_text(&self, host_path: impl AsRef<Path>, limit: u64) -> Result<String, RootError> {
        let host_path = host_path.as_ref();
        let bytes = self.read_bytes(host_path, limit)?;
        String::from_utf8(bytes).map_err(|_| RootError::NotText {
            path: host_path.to_path_buf(),
        })
    }

    /// Reads a small text file (sysfs/procfs attribute, config), trimmed of surrounding space.
    pub fn read_small(&self, host_path: impl AsRef<Path>) -> Result<String, RootError> {
        Ok(self
            .read_text(host_path, SMALL_READ_LIMIT)?
            .trim()
            .to_string())
    }

    /// Names in a directory, sorted for deterministic output.
    pub fn read_dir_names(&self, host_path: impl AsRef<Path>) -> Result<Vec<String>, RootError> {
        let host_path = host_path.as_ref();
        let real = self.resolve(host_path)?;
        let mut names = Vec::new();
        for entry in fs::read_dir(&real).map_err(|e| Self::io_error(host_path, e))? {
            let entry = entry.map_err(|e| Self::io_error(host_path, e))?;
            if let Ok(name) = entry.file_name().into_string() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }
}

/// Splits `path` into normal and `..` components; `/` and `.` vanish.
fn push_components(out: &mut Vec<OsString>, path: &Path) {
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n.to_os_string()),
            Component::ParentDir => out.push(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn fixture() -> (tempfile::TempDir, HostRoot) {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("etc")).unwrap();
        fs::write(dir.path().join("etc/shadow"), "inside").unwrap();
        let root = HostRoot::new(dir.path()).unwrap();
        (dir, root)
    }

    #[test]
    fn absolute_symlink_is_rerooted() {
        let (dir, root) = fixture();
        symlink("/etc/shadow", dir.path().join("link")).unwrap();
        assert_eq!(root.read_small("/link").unwrap(), "inside");
    }

    #[test]
    fn dotdot_cannot_escape() {
        let (dir, root) = fixture();
        symlink("../../../../../../etc/shadow", dir.path().join("etc/up")).unwrap();
        assert_eq!(root.read_small("/etc/up").unwrap(), "inside");
        assert_eq!(root.read_small("/../../etc/shadow").unwrap(), "inside");
    }

    #[test]
    fn loops_are_an_error_naming_the_path() {
        let (dir, root) = fixture();
        symlink("/b", dir.path().join("a")).unwrap();
        symlink("/a", dir.path().join("b")).unwrap();
        let err = root.read_small("/a").unwrap_err();
        assert!(matches!(err, RootError::SymlinkLoop { .. }), "{err}");
        assert!(err.to_string().starts_with("/a:"));
    }

    #[test]
    fn bounded_reads_refuse_large_files() {
        let (dir, root) = fixture();
        fs::write(dir.path().join("big"), vec![b'x'; 100]).unwrap();
        assert!(matches!(
            root.read_bytes("/big", 99),
            Err(RootError::TooLarge { .. })
        ));
        assert_eq!(root.read_bytes("/big", 100).unwrap().len(), 100);
    }

    #[test]
    fn directory_where_a_file_should_be() {
        let (_dir, root) = fixture();
        assert!(matches!(
            root.read_small("/etc"),
            Err(RootError::IsADirectory { .. })
        ));
        assert!(root.read_small("/nope").unwrap_err().is_not_found());
    }

    #[test]
    fn missing_root_is_a_clear_error() {
        let err = HostRoot::new("/definitely/not/here").unwrap_err();
        assert!(matches!(err, RootError::MissingRoot { .. }));
    }
}
