//! Two locks: hvguard's own (one update at a time on a host) and a look at dpkg's (is another
//! package manager running, and who).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hvguard_core::HostRoot;
use rustix::fs::{flock, FlockOperation};

use crate::UpdateError;

/// dpkg's locks: apt takes the frontend lock, dpkg itself the second.
pub const DPKG_LOCKS: [&str; 2] = ["/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock"];

/// The held update lock; released when dropped (and by the kernel if the process dies).
#[derive(Debug)]
pub struct UpdateLock {
    _file: File,
    pub path: PathBuf,
}

/// Takes the update lock at `path`, recording who holds it; a held lock is an error that
/// names the holder.
pub fn take_update_lock(path: &Path, command: &str) -> Result<UpdateLock, UpdateError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| UpdateError::io(parent, "creating the state folder", e))?;
    }
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| UpdateError::io(path, "opening the update lock", e))?;
    if flock(&file, FlockOperation::NonBlockingLockExclusive).is_err() {
        let mut holder = String::new();
        let _ = (&file).take(4096).read_to_string(&mut holder);
        let holder = holder.trim();
        return Err(UpdateError::Busy {
            path: path.to_path_buf(),
            holder: if holder.is_empty() {
                "holder unknown".into()
            } else {
                holder.to_owned()
            },
        });
    }
    let now = jiff::Timestamp::now();
    let text = format!(
        "pid {} (hvguard {command}) since {}",
        std::process::id(),
        now.round(jiff::Unit::Second).unwrap_or(now)
    );
    file.set_len(0)
        .and_then(|_| file.rewind())
        .and_then(|_| file.write_all(text.as_bytes()))
        .and_then(|_| file.flush())
        .map_err(|e| UpdateError::io(path, "recording the lock holder", e))?;
    Ok(UpdateLock {
        _file: file,
        path: path.to_path_buf(),
    })
}

/// A lock held on a file, per `/proc/locks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldLock {
    pub pid: u32,
    /// `/proc/PID/comm`, when readable.
    pub command: Option<String>,
}

impl HeldLock {
    pub fn describe(&self) -> String {
        match &self.command {
            Some(c) => format!("pid {} ({c})", self.pid),
            None => format!("pid {}", self.pid),
        }
    }
}

fn dev_major(dev: u64) -> u64 {
    ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff)
}

fn dev_minor(dev: u64) -> u64 {
    (dev & 0xff) | ((dev >> 12) & !0xff)
}

/// Parses `/proc/locks` and returns the holders of a lock on the file with this device and
/// inode. Waiters (`->` lines) and OFD locks without a pid are skipped.
pub fn holders_in(proc_locks: &str, dev: u64, ino: u64) -> Vec<u32> {
    let wanted = (dev_major(dev), dev_minor(dev), ino);
    proc_locks
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let _index = words.next()?;
            let kind = words.next()?;
            if kind == "->" {
                return None;
            }
            let _mode = words.next()?;
            let _access = words.next()?;
            let pid: i64 = words.next()?.parse().ok()?;
            let mut id = words.next()?.split(':');
            let major = u64::from_str_radix(id.next()?, 16).ok()?;
            let minor = u64::from_str_radix(id.next()?, 16).ok()?;
            let inode: u64 = id.next()?.parse().ok()?;
            ((major, minor, inode) == wanted && pid > 0).then(|| u32::try_from(pid).ok())?
        })
        .collect()
}

/// Who holds dpkg's locks now, if anyone (live root).
pub fn dpkg_lock_holder(root: &HostRoot) -> Option<(PathBuf, HeldLock)> {
    let locks = root.read_text("/proc/locks", 16 << 20).ok()?;
    for lock in DPKG_LOCKS {
        let Ok(meta) = root.metadata(lock) else {
            continue;
        };
        if let Some(pid) = holders_in(&locks, meta.dev(), meta.ino()).first() {
            let command = root.read_small(format!("/proc/{pid}/comm")).ok();
            return Some((PathBuf::from(lock), HeldLock { pid: *pid, command }));
        }
    }
    None
}

/// Waits up to `bound` for dpkg's locks to be free; an error naming the holder after that.
pub fn wait_for_dpkg(root: &HostRoot, bound: Duration) -> Result<Duration, UpdateError> {
    let started = Instant::now();
    loop {
        let Some((path, holder)) = dpkg_lock_holder(root) else {
            return Ok(started.elapsed());
        };
        if started.elapsed() >= bound {
            return Err(UpdateError::PackageManagerLocked {
                path,
                holder: holder.describe(),
                seconds: bound.as_secs(),
            });
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn proc_locks_lines() {
        let text = "1: POSIX  ADVISORY  WRITE 4242 fe:00:1234 0 EOF\n\
                    1: -> POSIX  ADVISORY  WRITE 4343 fe:00:1234 0 EOF\n\
                    2: FLOCK  ADVISORY  WRITE 99 00:1a:77 0 EOF\n\
                    3: OFDLCK ADVISORY  READ  -1 fe:00:1234 0 EOF\n\
                    garbage\n";
        let dev = 0xfe << 8; // major 0xfe, minor 0
        assert_eq!(holders_in(text, dev, 1234), vec![4242]);
        assert_eq!(holders_in(text, 0x1a, 77), vec![99]); // 00:1a
        assert!(holders_in(text, dev, 1).is_empty());
    }

    #[test]
    fn second_lock_names_the_first_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("update.lock");
        let held = take_update_lock(&path, "update apply").unwrap();
        let err = take_update_lock(&path, "update apply").unwrap_err();
        assert!(matches!(err, UpdateError::Busy { .. }), "{err}");
        assert!(
            err.to_string().contains(&format!(
                "pid {} (hvguard update apply)",
                std::process::id()
            )),
            "{err}"
        );
        drop(held);
        take_update_lock(&path, "update status").unwrap();
    }

    #[test]
    fn a_lock_we_hold_shows_in_proc_locks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let file = File::create(&path).unwrap();
        flock(&file, FlockOperation::LockExclusive).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        let text = std::fs::read_to_string("/proc/locks").unwrap();
        assert!(holders_in(&text, meta.dev(), meta.ino()).contains(&std::process::id()));
    }
}
