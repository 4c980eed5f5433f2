//! `RootDir`: a directory under a root, held by descriptor, for writing into it.
//!
//! Every operation names one entry *of this directory* (`openat`, `mkdirat`, `renameat`,
//! `unlinkat` relative to the descriptor), so whatever happens to the path that led here
//! (a parent renamed, swapped for a symlink), a write lands in the directory that was
//! checked, never somewhere a name now points. Entries are never followed when they are
//! symlinks.

use super::{read_bounded, resolve, RootError};
use rustix::fs::{
    fstat, fsync, mkdirat, openat, renameat, statat, unlinkat, AtFlags, FileType, Mode, OFlags,
};
use rustix::io::Errno;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What an entry of a directory is, its last symlink not followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Directory,
    Symlink,
    /// A device, FIFO or socket.
    Other,
}

impl EntryKind {
    fn of(mode: u32) -> Self {
        match FileType::from_raw_mode(mode) {
            FileType::RegularFile => EntryKind::File,
            FileType::Directory => EntryKind::Directory,
            FileType::Symlink => EntryKind::Symlink,
            _ => EntryKind::Other,
        }
    }
}

/// An open directory under a host root (see the module documentation).
#[derive(Debug)]
pub struct RootDir {
    fd: OwnedFd,
    host_path: PathBuf,
}

impl RootDir {
    pub(super) fn new(fd: OwnedFd, host_path: PathBuf) -> Self {
        RootDir { fd, host_path }
    }

    /// The host path this directory was opened as (for messages).
    pub fn host_path(&self) -> &Path {
        &self.host_path
    }

    /// The host path of the entry `name`, for messages.
    pub fn entry_path(&self, name: &OsStr) -> PathBuf {
        self.host_path.join(name)
    }

    /// `name` must be one plain entry of this directory.
    fn checked<'n>(&self, name: &'n OsStr) -> Result<&'n OsStr, RootError> {
        let bytes = name.as_bytes();
        if bytes.is_empty() || bytes.contains(&b'/') || bytes == b"." || bytes == b".." {
            return Err(RootError::io(
                &self.entry_path(name),
                io::Error::new(io::ErrorKind::InvalidInput, "not a single file name"),
            ));
        }
        Ok(name)
    }

    fn err(&self, name: &OsStr, e: impl Into<io::Error>) -> RootError {
        RootError::io(&self.entry_path(name), e)
    }

    /// What `name` is, `None` when it does not exist.
    pub fn entry_kind(&self, name: &OsStr) -> Result<Option<EntryKind>, RootError> {
        let name = self.checked(name)?;
        match statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(EntryKind::of(st.st_mode))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(self.err(name, e)),
        }
    }

    /// The sub-directory `name` (a symlink there is refused, not followed).
    pub fn subdir(&self, name: &OsStr) -> Result<RootDir, RootError> {
        let name = self.checked(name)?;
        let fd = openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| match e {
            // `O_NOFOLLOW` on a link answers ELOOP, or ENOTDIR as `O_DIRECTORY` is asked too.
            Errno::LOOP | Errno::NOTDIR
                if self.entry_kind(name).ok().flatten() == Some(EntryKind::Symlink) =>
            {
                RootError::Symlink {
                    path: self.entry_path(name),
                }
            }
            e => self.err(name, e),
        })?;
        Ok(RootDir::new(fd, self.entry_path(name)))
    }

    /// Creates the sub-directory `name` with `mode` and opens it.
    pub fn create_subdir(&self, name: &OsStr, mode: u32) -> Result<RootDir, RootError> {
        let name = self.checked(name)?;
        mkdirat(&self.fd, name, Mode::from_raw_mode(mode)).map_err(|e| self.err(name, e))?;
        self.subdir(name)
    }

    /// Removes the sub-directory `name` if it is empty.
    pub fn remove_subdir(&self, name: &OsStr) -> Result<(), RootError> {
        let name = self.checked(name)?;
        unlinkat(&self.fd, name, AtFlags::REMOVEDIR).map_err(|e| self.err(name, e))
    }

    /// The bytes of the regular file `name` (at most `limit`), `None` when it does not exist.
    /// A symlink, a directory or a special file there is an error, and is never opened.
    pub fn read_file(&self, name: &OsStr, limit: u64) -> Result<Option<Vec<u8>>, RootError> {
        let name = self.checked(name)?;
        let path_fd = match openat(
            &self.fd,
            name,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => File::from(fd),
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(self.err(name, e)),
        };
        let meta = path_fd.metadata().map_err(|e| self.err(name, e))?;
        let path = self.entry_path(name);
        if meta.file_type().is_symlink() {
            return Err(RootError::Symlink { path });
        }
        if meta.is_dir() {
            return Err(RootError::IsADirectory { path });
        }
        if !meta.is_file() {
            return Err(RootError::NotARegularFile { path });
        }
        let magic = format!("/proc/self/fd/{}", path_fd.as_raw_fd());
        let file = match rustix::fs::open(
            magic.as_str(),
            OFlags::RDONLY | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => File::from(fd),
            Err(Errno::NOENT) => {
                let fd = openat(
                    &self.fd,
                    name,
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| self.err(name, e))?;
                let st = fstat(&fd).map_err(|e| self.err(name, e))?;
                if EntryKind::of(st.st_mode) != EntryKind::File {
                    return Err(RootError::Changed { path });
                }
                File::from(fd)
            }
            Err(e) => return Err(self.err(name, e)),
        };
        read_bounded(file, &meta, &path, limit).map(Some)
    }

    /// Names in this directory (bytes, unsorted).
    pub fn names(&self) -> Result<Vec<OsString>, RootError> {
        let fd = openat(
            &self.fd,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| RootError::io(&self.host_path, e))?;
        resolve::read_names(fd, &self.host_path)
    }

    /// Creates the new file `name` (it must not exist: `O_EXCL`, never through a link) with
    /// permission bits `mode`, open for writing.
    pub fn create_new(&self, name: &OsStr, mode: u32) -> Result<File, RootError> {
        let name = self.checked(name)?;
        openat(
            &self.fd,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        )
        .map(File::from)
        .map_err(|e| self.err(name, e))
    }

    /// Removes the file `name`.
    pub fn remove_file(&self, name: &OsStr) -> Result<(), RootError> {
        let name = self.checked(name)?;
        unlinkat(&self.fd, name, AtFlags::empty()).map_err(|e| self.err(name, e))
    }

    /// Renames this directory's `from` to `to` in `to_dir` (same file system), replacing
    /// whatever `to` was. The error names the destination.
    pub fn rename(&self, from: &OsStr, to_dir: &RootDir, to: &OsStr) -> Result<(), RootError> {
        let from = self.checked(from)?;
        let to = to_dir.checked(to)?;
        renameat(&self.fd, from, &to_dir.fd, to).map_err(|e| to_dir.err(to, e))
    }

    /// Makes the entries of this directory (a rename into it) durable.
    pub fn sync(&self) -> Result<(), RootError> {
        fsync(&self.fd).map_err(|e| RootError::io(&self.host_path, e))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use crate::{EntryKind, HostRoot, RootError};
    use std::ffi::OsStr;
    use std::fs;
    use std::io::Write;
    use std::os::unix::fs::symlink;

    #[test]
    fn writes_land_in_the_directory_that_was_opened() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("etc/kata")).unwrap();
        let root = HostRoot::new(dir.path()).unwrap();
        let kata = root.open_dir("/etc/kata").unwrap();
        // The path changes under the open handle: the write still goes where it was checked.
        fs::rename(dir.path().join("etc/kata"), dir.path().join("etc/moved")).unwrap();
        let mut f = kata.create_new(OsStr::new(".tmp"), 0o600).unwrap();
        f.write_all(b"x = 1\n").unwrap();
        kata.rename(OsStr::new(".tmp"), &kata, OsStr::new("x.toml"))
            .unwrap();
        kata.sync().unwrap();
        assert_eq!(
            fs::read(dir.path().join("etc/moved/x.toml")).unwrap(),
            b"x = 1\n"
        );
        assert_eq!(
            kata.read_file(OsStr::new("x.toml"), 64).unwrap().unwrap(),
            b"x = 1\n"
        );
        assert_eq!(kata.read_file(OsStr::new("none"), 64).unwrap(), None);
        assert_eq!(
            kata.entry_kind(OsStr::new("x.toml")).unwrap(),
            Some(EntryKind::File)
        );
    }

    #[test]
    fn links_are_never_followed_and_names_are_single_components() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        symlink(outside.path(), dir.path().join("out")).unwrap();
        symlink(outside.path().join("f"), dir.path().join("f")).unwrap();
        let root = HostRoot::new(dir.path()).unwrap();
        let top = root.open_dir("/").unwrap();
        assert!(matches!(
            top.subdir(OsStr::new("out")),
            Err(RootError::Symlink { .. })
        ));
        assert!(matches!(
            top.read_file(OsStr::new("f"), 64),
            Err(RootError::Symlink { .. })
        ));
        assert!(top.create_new(OsStr::new("f"), 0o644).is_err());
        assert!(top.create_new(OsStr::new("out/x"), 0o644).is_err());
        assert!(top.create_new(OsStr::new(".."), 0o644).is_err());
        assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
    }
}
