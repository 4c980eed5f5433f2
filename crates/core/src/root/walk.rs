//! The component-by-component walk: what `openat2(RESOLVE_IN_ROOT)` does, done by hand.
//!
//! Every component is opened relative to the descriptor of the directory before it, with
//! `O_PATH | O_NOFOLLOW`, and `fstat`ed: a directory becomes the next step, a symlink is read
//! through its own descriptor (`readlinkat(fd, "")`) and its target pushed back onto the
//! components still to walk (an absolute target starts again from the root). `..` pops the
//! walker's own stack of directory descriptors and so never asks the kernel to climb: it
//! cannot leave the root even if a directory is moved while the walk runs. The last
//! component is opened with the caller's flags and `O_NOFOLLOW`, relative to the same
//! descriptor that was checked; if it turned into a symlink in between, the walk starts over.

use super::MAX_SYMLINK_HOPS;
use rustix::fs::{fstat, openat, readlinkat, FileType, Mode, OFlags};
use rustix::io::Errno;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// How many times a walk restarts when a racing rename turns its last component into a link.
const RESTARTS: usize = 8;

#[derive(Debug)]
pub(super) enum WalkError {
    Os(Errno),
    /// More than [`MAX_SYMLINK_HOPS`] symlinks.
    Loop,
    /// The last component changed between the check and the open.
    Restart,
}

impl From<Errno> for WalkError {
    fn from(e: Errno) -> Self {
        WalkError::Os(e)
    }
}

/// What a walk opened, and the host path it really is (every link resolved).
#[derive(Debug)]
pub(super) struct Walked {
    pub fd: OwnedFd,
    pub components: Vec<OsString>,
}

impl Walked {
    pub fn host_path(&self) -> PathBuf {
        let mut p = PathBuf::from("/");
        p.extend(&self.components);
        p
    }
}

/// Opens `host_path` under `root` with `flags`; `follow` says whether a final symlink is
/// followed (inside the root) or opened itself (only meaningful with `O_PATH`).
pub(super) fn open(
    root: &OwnedFd,
    host_path: &Path,
    flags: OFlags,
    follow: bool,
) -> Result<Walked, WalkError> {
    for _ in 0..RESTARTS {
        match attempt(root.as_fd(), host_path, flags, follow) {
            Err(WalkError::Restart) => continue,
            other => return other,
        }
    }
    Err(WalkError::Os(Errno::AGAIN))
}

/// `path`'s components in walking order, as a stack (the next one last).
fn push_parts(stack: &mut Vec<OsString>, path: &Path) {
    let start = stack.len();
    for c in path.components() {
        match c {
            Component::Normal(n) => stack.push(n.to_os_string()),
            Component::ParentDir => stack.push(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    stack[start..].reverse();
}

fn attempt(
    root: BorrowedFd<'_>,
    host_path: &Path,
    flags: OFlags,
    follow: bool,
) -> Result<Walked, WalkError> {
    let mut pending: Vec<OsString> = Vec::new();
    push_parts(&mut pending, host_path);
    // The directories walked into below the root, each with its name.
    let mut dirs: Vec<(OwnedFd, OsString)> = Vec::new();
    let mut hops = 0usize;
    loop {
        let current = dirs.last().map_or(root, |(fd, _)| fd.as_fd());
        let Some(part) = pending.pop() else {
            // The path names a directory (or the root) itself: open it again with `flags`.
            let fd = openat(current, ".", flags | OFlags::CLOEXEC, Mode::empty())?;
            return Ok(Walked {
                fd,
                components: dirs.into_iter().map(|(_, n)| n).collect(),
            });
        };
        if part == ".." {
            dirs.pop();
            continue;
        }
        let last = pending.is_empty();
        let probe = openat(
            current,
            &part,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let kind = FileType::from_raw_mode(fstat(&probe)?.st_mode);
        if kind == FileType::Symlink && (follow || !last) {
            hops += 1;
            if hops > MAX_SYMLINK_HOPS {
                return Err(WalkError::Loop);
            }
            let target = readlinkat(&probe, "", Vec::new())?;
            let target = Path::new(OsStr::from_bytes(target.as_bytes()));
            if target.has_root() {
                dirs.clear();
            }
            push_parts(&mut pending, target);
            continue;
        }
        if last {
            let fd = if flags == OFlags::PATH {
                probe
            } else {
                open_last(current, &part, flags)?
            };
            let mut components: Vec<OsString> = dirs.into_iter().map(|(_, n)| n).collect();
            components.push(part);
            return Ok(Walked { fd, components });
        }
        if kind != FileType::Directory {
            return Err(WalkError::Os(Errno::NOTDIR));
        }
        dirs.push((probe, part));
    }
}

/// Opens the checked last component with the caller's flags, never through a link: one that
/// appeared since the check (a racing rename) restarts the walk.
fn open_last(dir: BorrowedFd<'_>, name: &OsStr, flags: OFlags) -> Result<OwnedFd, WalkError> {
    match openat(
        dir,
        name,
        flags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => Ok(fd),
        // `O_NOFOLLOW` on a link answers ELOOP, or ENOTDIR when `O_DIRECTORY` is asked too.
        Err(e @ (Errno::LOOP | Errno::NOTDIR)) => {
            let now = openat(
                dir,
                name,
                OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            if FileType::from_raw_mode(fstat(&now)?.st_mode) == FileType::Symlink {
                Err(WalkError::Restart)
            } else {
                Err(WalkError::Os(e))
            }
        }
        Err(e) => Err(WalkError::Os(e)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    fn root_fd(dir: &Path) -> OwnedFd {
        rustix::fs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap()
    }

    #[test]
    fn components_follow_links_and_clamp_dotdot() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("a/b")).unwrap();
        fs::write(dir.path().join("a/b/f"), "x").unwrap();
        symlink("b", dir.path().join("a/rel")).unwrap();
        symlink("/a", dir.path().join("abs")).unwrap();
        symlink("../../../../a/b", dir.path().join("a/up")).unwrap();
        let root = root_fd(dir.path());
        for (path, want) in [
            ("/a/rel/f", "/a/b/f"),
            ("/abs/rel/f", "/a/b/f"),
            ("/a/up/f", "/a/b/f"),
            ("/../../a/./b/../b/f", "/a/b/f"),
            ("/", "/"),
            ("/abs", "/a"),
        ] {
            let w = open(&root, Path::new(path), OFlags::PATH, true).unwrap();
            assert_eq!(w.host_path(), Path::new(want), "{path}");
        }
        let link = open(&root, Path::new("/abs"), OFlags::PATH, false).unwrap();
        assert_eq!(link.host_path(), Path::new("/abs"));
    }

    #[test]
    fn a_file_in_the_middle_is_not_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("f"), "x").unwrap();
        let root = root_fd(dir.path());
        assert!(matches!(
            open(&root, Path::new("/f/x"), OFlags::PATH, true),
            Err(WalkError::Os(Errno::NOTDIR))
        ));
        assert!(matches!(
            open(&root, Path::new("/none/x"), OFlags::PATH, true),
            Err(WalkError::Os(Errno::NOENT))
        ));
    }

    #[test]
    fn forty_links_are_fine_forty_one_are_a_loop() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("l0"), "x").unwrap();
        for i in 1..=41 {
            symlink(format!("l{}", i - 1), dir.path().join(format!("l{i}"))).unwrap();
        }
        let root = root_fd(dir.path());
        assert!(open(&root, Path::new("/l40"), OFlags::PATH, true).is_ok());
        assert!(matches!(
            open(&root, Path::new("/l41"), OFlags::PATH, true),
            Err(WalkError::Loop)
        ));
    }
}
