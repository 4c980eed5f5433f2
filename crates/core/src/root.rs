//! `HostRoot`: every read of the host goes through here.
//!
//! A root is `/` (the live host) or a directory holding a host image or a test fixture.
//! Paths are always given as the host would see them (`/proc/cpuinfo`) and are resolved
//! *inside* the root the way a chroot would: an absolute symlink target is re-rooted, `..`
//! never climbs above the root. Reads are bounded so that a hostile or huge file cannot
//! exhaust memory. Nothing here ever executes a file.
//!
//! Confinement holds against a root that changes while hvguard runs: every path is resolved
//! and opened relative to the root's directory descriptor, never resolved first and opened
//! again by name (a directory swapped for an escaping symlink in between would lead out of
//! the root). The kernel does the confined lookup when it can (`openat2` with
//! `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`, Linux 5.6+); otherwise a component-by-component
//! `openat(O_NOFOLLOW)` walk does it (see `root/walk.rs`). Metadata comes from `fstat` on the
//! opened descriptor, files are opened for reading only after that `fstat` says they are
//! regular (a device planted under the root is never opened), and writes go through
//! [`RootDir`], a directory descriptor checked once and used for every `openat`/`renameat`.
//! The live root (`/`) uses plain opens: the kernel's own lookup cannot leave `/`.

mod dir;
mod resolve;
mod walk;

pub use dir::{EntryKind, RootDir};

use resolve::Resolver;
use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Linux's own limit on symlinks followed in one lookup (`MAXSYMLINKS`).
const MAX_SYMLINK_HOPS: usize = 40;

/// Default ceiling for small text reads (sysfs, procfs, config files).
pub const SMALL_READ_LIMIT: u64 = 1 << 20;

/// Most entries a directory listing returns: `/usr/bin` of a large host has a few thousand;
/// a hostile folder with millions of names is refused rather than held in memory.
pub const MAX_DIR_ENTRIES: usize = 1 << 16;

/// Most procfs/sysfs files fit in this; it is only the first allocation, not a limit.
const INITIAL_BUFFER: u64 = 8 << 10;

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
    /// The cause is in the message and not exposed again as a `source()`: printed once.
    #[error("{path}: {cause}")]
    Io { path: PathBuf, cause: io::Error },
    #[error("{path}: is a symbolic link, which is not followed here")]
    Symlink { path: PathBuf },
    #[error("{path}: more than {limit} entries")]
    TooManyEntries { path: PathBuf, limit: usize },
    #[error("{path}: changed while it was being opened")]
    Changed { path: PathBuf },
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
            | RootError::Io { path, .. }
            | RootError::Symlink { path }
            | RootError::TooManyEntries { path, .. }
            | RootError::Changed { path } => path,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, RootError::Io { cause, .. } if cause.kind() == io::ErrorKind::NotFound)
    }

    pub fn is_permission_denied(&self) -> bool {
        matches!(self, RootError::Io { cause, .. } if cause.kind() == io::ErrorKind::PermissionDenied)
    }

    pub(crate) fn io(path: &Path, cause: impl Into<io::Error>) -> Self {
        RootError::Io {
            path: path.to_path_buf(),
            cause: cause.into(),
        }
    }
}

/// How paths under a (non-live) root are resolved. Both confine every lookup to the root;
/// they differ only in who does the walking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The kernel: `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`, one call per open.
    Kernel,
    /// hvguard: one `openat(O_NOFOLLOW)` per component, symlinks read and re-rooted by hand
    /// (kernels before 5.6, or where a seccomp filter refuses `openat2`).
    Walk,
}

#[derive(Debug, Clone)]
pub struct HostRoot {
    base: PathBuf,
    /// `None` for the live root; the directory descriptor every lookup starts from otherwise.
    dir: Option<Arc<OwnedFd>>,
    resolution: Resolution,
}

impl HostRoot {
    /// The live host, `/`.
    pub fn live() -> Self {
        HostRoot {
            base: PathBuf::from("/"),
            dir: None,
            resolution: Resolution::Kernel,
        }
    }

    /// A root directory. `/` (or anything that canonicalises to it) is the live host.
    ///
    /// The root must be readable and searchable: a root that cannot be listed would make every
    /// fact unknown and the report empty, which reads like a clean host.
    pub fn new(dir: impl AsRef<Path>) -> Result<Self, RootError> {
        Self::open(dir.as_ref(), None)
    }

    /// Like [`HostRoot::new`], with the resolution forced (tests, fuzzing, benchmarks).
    /// Asking for [`Resolution::Kernel`] where the kernel lacks `openat2` is an error.
    pub fn with_resolution(
        dir: impl AsRef<Path>,
        resolution: Resolution,
    ) -> Result<Self, RootError> {
        Self::open(dir.as_ref(), Some(resolution))
    }

    fn open(dir: &Path, wanted: Option<Resolution>) -> Result<Self, RootError> {
        let meta = std::fs::metadata(dir).map_err(|source| {
            if source.kind() == io::ErrorKind::NotFound {
                RootError::MissingRoot {
                    path: dir.to_path_buf(),
                }
            } else {
                RootError::io(dir, source)
            }
        })?;
        if !meta.is_dir() {
            return Err(RootError::RootNotADirectory {
                path: dir.to_path_buf(),
            });
        }
        let base = std::fs::canonicalize(dir).map_err(|e| RootError::io(dir, e))?;
        if base == Path::new("/") && wanted.is_none() {
            return Ok(Self::live());
        }
        let fd = resolve::open_root(&base).map_err(|e| RootError::io(dir, e))?;
        let resolution = match wanted {
            Some(Resolution::Kernel) if !resolve::kernel_resolves(&fd) => {
                return Err(RootError::io(
                    dir,
                    io::Error::new(
                        io::ErrorKind::Unsupported,
                        "openat2(RESOLVE_IN_ROOT) is not available on this kernel",
                    ),
                ))
            }
            Some(r) => r,
            None if resolve::kernel_resolves(&fd) => Resolution::Kernel,
            None => Resolution::Walk,
        };
        Ok(HostRoot {
            base,
            dir: Some(Arc::new(fd)),
            resolution,
        })
    }

    /// True when this is the running host, where live-only checks (ioctls, `--version`) apply.
    pub fn is_live(&self) -> bool {
        self.dir.is_none()
    }

    /// The directory on this machine that stands for `/`. For display and records only:
    /// opening `base().join(..)` by name would give up the confinement described above.
    pub fn base(&self) -> &Path {
        &self.base
    }

    /// How paths are resolved under this root; `None` for the live root (plain opens).
    pub fn resolution(&self) -> Option<Resolution> {
        self.dir.as_ref().map(|_| self.resolution)
    }

    fn resolver(&self) -> Resolver<'_> {
        match &self.dir {
            None => Resolver::Live,
            Some(fd) => Resolver::Confined {
                root: fd,
                resolution: self.resolution,
            },
        }
    }

    /// The host path `host_path` finally names, every symlink followed (inside the root),
    /// every `.` and `..` gone. Two names for one file give the same answer, which is what
    /// de-duplication needs. The answer is a *host* path: to read what it names, pass it back
    /// to this root, never to `std::fs`.
    pub fn canonical(&self, host_path: impl AsRef<Path>) -> Result<PathBuf, RootError> {
        let host_path = host_path.as_ref();
        self.resolver().canonical(host_path)
    }

    /// Metadata of what `host_path` points to (symlinks followed inside the root).
    pub fn metadata(&self, host_path: impl AsRef<Path>) -> Result<Metadata, RootError> {
        self.resolver().metadata(host_path.as_ref(), true)
    }

    /// Metadata of `host_path` itself (a final symlink is not followed).
    pub fn symlink_metadata(&self, host_path: impl AsRef<Path>) -> Result<Metadata, RootError> {
        self.resolver().metadata(host_path.as_ref(), false)
    }

    pub fn exists(&self, host_path: impl AsRef<Path>) -> bool {
        self.metadata(host_path).is_ok()
    }

    /// Opens a regular file for streaming reads. Anything else (a directory, a FIFO, a
    /// device, a socket) is an error without being opened for reading; on the live root the
    /// procfs and sysfs files are regular files too.
    pub fn open_file(&self, host_path: impl AsRef<Path>) -> Result<(File, Metadata), RootError> {
        self.resolver().open_regular(host_path.as_ref())
    }

    /// Reads at most `limit` bytes; a longer file is an error, not a silent truncation.
    pub fn read_bytes(
        &self,
        host_path: impl AsRef<Path>,
        limit: u64,
    ) -> Result<Vec<u8>, RootError> {
        let host_path = host_path.as_ref();
        let (file, meta) = self.open_file(host_path)?;
        read_bounded(file, &meta, host_path, limit)
    }

    /// Like [`HostRoot::read_bytes`], with the metadata of the very file that was read (its
    /// mode and owner, not those of whatever the name points to a moment later).
    pub fn read_bytes_with_metadata(
        &self,
        host_path: impl AsRef<Path>,
        limit: u64,
    ) -> Result<(Vec<u8>, Metadata), RootError> {
        let host_path = host_path.as_ref();
        let (file, meta) = self.open_file(host_path)?;
        Ok((read_bounded(file, &meta, host_path, limit)?, meta))
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

    /// Every name in a directory, as bytes (a name need not be UTF-8), sorted bytewise.
    pub fn read_dir_os(&self, host_path: impl AsRef<Path>) -> Result<Vec<OsString>, RootError> {
        let mut names = self.resolver().read_dir(host_path.as_ref())?;
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        Ok(names)
    }

    /// The UTF-8 names in a directory, sorted. For kernel interfaces and databases whose
    /// names are ASCII by construction (sysfs, dpkg's `info/`): a name that is not UTF-8
    /// cannot be one they mean and is left out. Anything a runtime would read whatever its
    /// name (drop-ins, binaries) must use [`HostRoot::read_dir_os`].
    pub fn read_dir_names(&self, host_path: impl AsRef<Path>) -> Result<Vec<String>, RootError> {
        let mut names: Vec<String> = self
            .resolver()
            .read_dir(host_path.as_ref())?
            .into_iter()
            .filter_map(|n| n.into_string().ok())
            .collect();
        names.sort();
        Ok(names)
    }

    /// A directory under the root, held open for writing into it (symlinks followed inside
    /// the root). Every file hvguard writes is created and renamed through such a handle.
    pub fn open_dir(&self, host_path: impl AsRef<Path>) -> Result<RootDir, RootError> {
        let host_path = host_path.as_ref();
        let fd = self.resolver().open_directory(host_path)?;
        Ok(RootDir::new(fd, host_path.to_path_buf()))
    }
}

/// Reads `file` (whose metadata is `meta`) to the end, refusing more than `limit` bytes.
pub(crate) fn read_bounded(
    file: File,
    meta: &Metadata,
    host_path: &Path,
    limit: u64,
) -> Result<Vec<u8>, RootError> {
    // procfs reports 0 and sysfs 4096 for every attribute, so the length is only a hint.
    let hint = meta.len().max(INITIAL_BUFFER).min(limit.saturating_add(1));
    let mut buf = Vec::with_capacity(usize::try_from(hint).unwrap_or(1 << 16));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| RootError::io(host_path, e))?;
    if buf.len() as u64 > limit {
        return Err(RootError::TooLarge {
            path: host_path.to_path_buf(),
            limit,
        });
    }
    Ok(buf)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    fn fixture(resolution: Resolution) -> (tempfile::TempDir, HostRoot) {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("etc")).unwrap();
        fs::write(dir.path().join("etc/shadow"), "inside").unwrap();
        let root = HostRoot::with_resolution(dir.path(), resolution).unwrap();
        (dir, root)
    }

    fn both(test: impl Fn(&tempfile::TempDir, &HostRoot)) {
        for resolution in [Resolution::Kernel, Resolution::Walk] {
            let (dir, root) = fixture(resolution);
            test(&dir, &root);
        }
    }

    #[test]
    fn absolute_symlink_is_rerooted() {
        both(|dir, root| {
            symlink("/etc/shadow", dir.path().join("link")).unwrap();
            assert_eq!(root.read_small("/link").unwrap(), "inside");
            assert_eq!(root.canonical("/link").unwrap(), Path::new("/etc/shadow"));
        });
    }

    #[test]
    fn dotdot_cannot_escape() {
        both(|dir, root| {
            symlink("../../../../../../etc/shadow", dir.path().join("etc/up")).unwrap();
            assert_eq!(root.read_small("/etc/up").unwrap(), "inside");
            assert_eq!(root.read_small("/../../etc/shadow").unwrap(), "inside");
            assert_eq!(root.canonical("/etc/up").unwrap(), Path::new("/etc/shadow"));
        });
    }

    #[test]
    fn loops_are_an_error_naming_the_path() {
        both(|dir, root| {
            symlink("/b", dir.path().join("a")).unwrap();
            symlink("/a", dir.path().join("b")).unwrap();
            let err = root.read_small("/a").unwrap_err();
            assert!(matches!(err, RootError::SymlinkLoop { .. }), "{err}");
            assert!(err.to_string().starts_with("/a:"));
            let err = root.canonical("/a").unwrap_err();
            assert!(matches!(err, RootError::SymlinkLoop { .. }), "{err}");
        });
    }

    #[test]
    fn bounded_reads_refuse_large_files() {
        both(|dir, root| {
            fs::write(dir.path().join("big"), vec![b'x'; 100]).unwrap();
            assert!(matches!(
                root.read_bytes("/big", 99),
                Err(RootError::TooLarge { .. })
            ));
            assert_eq!(root.read_bytes("/big", 100).unwrap().len(), 100);
        });
    }

    #[test]
    fn directory_where_a_file_should_be() {
        both(|_dir, root| {
            assert!(matches!(
                root.read_small("/etc"),
                Err(RootError::IsADirectory { .. })
            ));
            assert!(root.read_small("/nope").unwrap_err().is_not_found());
        });
    }

    #[test]
    fn missing_root_is_a_clear_error() {
        let err = HostRoot::new("/definitely/not/here").unwrap_err();
        assert!(matches!(err, RootError::MissingRoot { .. }));
    }

    #[test]
    fn symlink_metadata_does_not_follow_the_last_link() {
        both(|dir, root| {
            symlink("/etc/shadow", dir.path().join("link")).unwrap();
            assert!(root.symlink_metadata("/link").unwrap().is_symlink());
            assert!(root.metadata("/link").unwrap().is_file());
            symlink("/nowhere", dir.path().join("dangling")).unwrap();
            assert!(root.symlink_metadata("/dangling").is_ok());
            assert!(root.metadata("/dangling").unwrap_err().is_not_found());
            assert!(!root.exists("/dangling"));
        });
    }

    #[test]
    fn directory_names_keep_non_utf8_bytes() {
        both(|dir, root| {
            let odd = OsString::from_vec(b"\xff-odd".to_vec());
            fs::write(dir.path().join("etc").join(&odd), "x").unwrap();
            let os = root.read_dir_os("/etc").unwrap();
            assert_eq!(os, vec![OsString::from("shadow"), odd.clone()]);
            assert_eq!(root.read_dir_names("/etc").unwrap(), vec!["shadow"]);
            assert_eq!(root.read_small(Path::new("/etc").join(&odd)).unwrap(), "x");
        });
    }

    #[test]
    fn root_itself_resolves() {
        both(|_dir, root| {
            assert!(root.metadata("/").unwrap().is_dir());
            assert_eq!(root.canonical("/").unwrap(), Path::new("/"));
            assert_eq!(root.read_dir_names("/").unwrap(), vec!["etc"]);
        });
    }

    use std::os::unix::ffi::OsStringExt;
}
