//! Opening host paths: plainly on the live root, confined to the root's descriptor otherwise.

use super::walk::{self, WalkError};
use super::{Resolution, RootError, MAX_DIR_ENTRIES};
use rustix::fs::{accessat, openat2, Access, AtFlags, Mode, OFlags, RawDir, ResolveFlags};
use rustix::io::Errno;
use std::ffi::{OsStr, OsString};
use std::fs::{File, Metadata};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// `openat2` answers EAGAIN when a rename races a `..` lookup; it is retried this often
/// before the walk takes over.
const EAGAIN_RETRIES: usize = 16;

const CONFINED: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

/// Flags for reading: `O_NONBLOCK` so a FIFO cannot block (it is refused anyway, but a
/// racing swap could put one there), `O_NOCTTY` so a terminal never becomes ours.
const READ: OFlags = OFlags::RDONLY
    .union(OFlags::NONBLOCK)
    .union(OFlags::NOCTTY)
    .union(OFlags::CLOEXEC);

/// Opens the root directory itself, and checks it may be listed and entered.
pub(super) fn open_root(base: &Path) -> io::Result<OwnedFd> {
    let fd = rustix::fs::open(
        base,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    accessat(&fd, ".", Access::EXEC_OK, AtFlags::EACCESS)?;
    Ok(fd)
}

/// True when this kernel resolves inside a root by itself (`openat2`, Linux 5.6+, and no
/// seccomp filter refusing it).
pub(super) fn kernel_resolves(root: &OwnedFd) -> bool {
    openat2(
        root,
        ".",
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        CONFINED,
    )
    .is_ok()
}

/// Where lookups start: the live `/`, or a confined root.
pub(super) enum Resolver<'a> {
    Live,
    Confined {
        root: &'a OwnedFd,
        resolution: Resolution,
    },
}

fn live_path(host_path: &Path) -> PathBuf {
    Path::new("/").join(host_path)
}

fn map_walk(host_path: &Path, e: WalkError) -> RootError {
    match e {
        WalkError::Loop | WalkError::Os(Errno::LOOP) => RootError::SymlinkLoop {
            path: host_path.to_path_buf(),
        },
        WalkError::Os(e) => RootError::io(host_path, e),
        WalkError::Restart => RootError::Changed {
            path: host_path.to_path_buf(),
        },
    }
}

fn map_errno(host_path: &Path, e: Errno) -> RootError {
    map_walk(host_path, WalkError::Os(e))
}

/// A directory, a FIFO, a device or a socket is refused before anything reads it.
fn check_regular(host_path: &Path, meta: &Metadata) -> Result<(), RootError> {
    if meta.is_dir() {
        Err(RootError::IsADirectory {
            path: host_path.to_path_buf(),
        })
    } else if !meta.is_file() {
        Err(RootError::NotARegularFile {
            path: host_path.to_path_buf(),
        })
    } else {
        Ok(())
    }
}

impl Resolver<'_> {
    /// Opens `host_path` with `flags`; a final symlink is followed (inside the root) when
    /// `follow`, else opened itself (with `O_PATH`).
    fn open(&self, host_path: &Path, flags: OFlags, follow: bool) -> Result<OwnedFd, RootError> {
        let nofollow = if follow {
            OFlags::empty()
        } else {
            OFlags::NOFOLLOW
        };
        let (root, resolution) = match self {
            Resolver::Live => {
                return rustix::fs::open(
                    live_path(host_path),
                    flags | nofollow | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| map_errno(host_path, e))
            }
            Resolver::Confined { root, resolution } => (*root, *resolution),
        };
        if resolution == Resolution::Kernel {
            let relative = host_path.strip_prefix("/").unwrap_or(host_path);
            let relative: &Path = if relative.as_os_str().is_empty() {
                Path::new(".")
            } else {
                relative
            };
            for _ in 0..EAGAIN_RETRIES {
                match openat2(
                    root,
                    relative,
                    flags | nofollow | OFlags::CLOEXEC,
                    Mode::empty(),
                    CONFINED,
                ) {
                    Err(Errno::AGAIN) => continue,
                    other => return other.map_err(|e| map_errno(host_path, e)),
                }
            }
        }
        walk::open(root, host_path, flags, follow)
            .map(|w| w.fd)
            .map_err(|e| map_walk(host_path, e))
    }

    pub(super) fn canonical(&self, host_path: &Path) -> Result<PathBuf, RootError> {
        match self {
            Resolver::Live => {
                std::fs::canonicalize(live_path(host_path)).map_err(|e| RootError::io(host_path, e))
            }
            Resolver::Confined { root, .. } => walk::open(root, host_path, OFlags::PATH, true)
                .map(|w| w.host_path())
                .map_err(|e| map_walk(host_path, e)),
        }
    }

    pub(super) fn metadata(&self, host_path: &Path, follow: bool) -> Result<Metadata, RootError> {
        if let Resolver::Live = self {
            // One statx instead of open + fstat + close: the live scan reads dozens of facts.
            let path = live_path(host_path);
            let meta = if follow {
                std::fs::metadata(path)
            } else {
                std::fs::symlink_metadata(path)
            };
            return meta.map_err(|e| RootError::io(host_path, e));
        }
        let fd = self.open(host_path, OFlags::PATH, follow)?;
        File::from(fd)
            .metadata()
            .map_err(|e| RootError::io(host_path, e))
    }

    pub(super) fn open_regular(&self, host_path: &Path) -> Result<(File, Metadata), RootError> {
        if let Resolver::Live = self {
            let file = File::from(self.open(host_path, READ, true)?);
            let meta = file.metadata().map_err(|e| RootError::io(host_path, e))?;
            check_regular(host_path, &meta)?;
            return Ok((file, meta));
        }
        // Look before opening: an `O_PATH` descriptor opens nothing (no device driver runs,
        // no FIFO waits), and what it names is then opened again for reading through
        // `/proc/self/fd`, which reaches exactly that inode whatever happens to the names.
        let path_fd = File::from(self.open(host_path, OFlags::PATH, true)?);
        let meta = path_fd
            .metadata()
            .map_err(|e| RootError::io(host_path, e))?;
        check_regular(host_path, &meta)?;
        let magic = format!("/proc/self/fd/{}", path_fd.as_raw_fd());
        match rustix::fs::open(magic.as_str(), READ, Mode::empty()) {
            Ok(fd) => Ok((File::from(fd), meta)),
            // No procfs (an unusual sandbox): open by name again, and make sure it is the
            // file that was checked.
            Err(Errno::NOENT) => {
                let file = File::from(self.open(host_path, READ, true)?);
                let again = file.metadata().map_err(|e| RootError::io(host_path, e))?;
                if (again.dev(), again.ino()) != (meta.dev(), meta.ino()) {
                    return Err(RootError::Changed {
                        path: host_path.to_path_buf(),
                    });
                }
                Ok((file, again))
            }
            Err(e) => Err(RootError::io(host_path, e)),
        }
    }

    pub(super) fn open_directory(&self, host_path: &Path) -> Result<OwnedFd, RootError> {
        self.open(
            host_path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            true,
        )
    }

    pub(super) fn read_dir(&self, host_path: &Path) -> Result<Vec<OsString>, RootError> {
        let fd = self.open_directory(host_path)?;
        read_names(fd, host_path)
    }
}

/// `getdents64` buffer: a /usr/bin of a few thousand names in a handful of calls (rustix's
/// `Dir` starts at 768 bytes and grows slowly, which cost several calls per folder).
const DIRENT_BUFFER: usize = 32 << 10;

/// The names in the directory `fd` (without `.` and `..`), at most [`MAX_DIR_ENTRIES`].
pub(super) fn read_names(fd: OwnedFd, host_path: &Path) -> Result<Vec<OsString>, RootError> {
    let mut buf: Vec<u8> = Vec::with_capacity(DIRENT_BUFFER);
    let mut dir = RawDir::new(&fd, buf.spare_capacity_mut());
    let mut names = Vec::new();
    while let Some(entry) = dir.next() {
        let entry = entry.map_err(|e| RootError::io(host_path, e))?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        if names.len() == MAX_DIR_ENTRIES {
            return Err(RootError::TooManyEntries {
                path: host_path.to_path_buf(),
                limit: MAX_DIR_ENTRIES,
            });
        }
        names.push(OsStr::from_bytes(name).to_os_string());
    }
    Ok(names)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::HostRoot;
    use rustix::fs::CWD;

    #[test]
    fn live_root_reads_procfs_and_refuses_devices() {
        let root = HostRoot::live();
        assert!(root.read_small("/proc/self/stat").is_ok());
        assert!(matches!(
            root.read_small("/dev/null"),
            Err(RootError::NotARegularFile { .. })
        ));
    }

    #[test]
    fn a_fifo_under_the_root_is_refused_without_blocking() {
        for resolution in [Resolution::Kernel, Resolution::Walk] {
            let dir = tempfile::tempdir().unwrap();
            rustix::fs::mknodat(
                CWD,
                dir.path().join("fifo"),
                rustix::fs::FileType::Fifo,
                Mode::from_raw_mode(0o644),
                0,
            )
            .unwrap();
            let root = HostRoot::with_resolution(dir.path(), resolution).unwrap();
            assert!(matches!(
                root.read_small("/fifo"),
                Err(RootError::NotARegularFile { .. })
            ));
        }
    }
}
