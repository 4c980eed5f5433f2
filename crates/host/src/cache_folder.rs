//! The folder of hvguard's cache files and what every cache file in it shares: one file per
//! host root and per kind of cache, trusted only when nobody else could have written it,
//! replaced atomically. The digest cache (`integrity::cache_file`) and the binary facts cache
//! (`binfacts::file`) each keep their own format on top of this.
//!
//! A file is named `<stem>-live` for the running host and `<stem>-root-<16 hex>` for a
//! `--root` tree (the first 16 hex digits of the SHA-256 of its canonical path), so scans of
//! other trees neither evict nor feed the running host's entries. Each file also records its
//! root on its second line ([`root_line`]), so a file copied or renamed to another root's name
//! reads as empty.
//!
//! A file is trusted only when it is a regular file (not reached through a symbolic link, one
//! link only) owned by the caller, not writable by group or others and no larger than its
//! cache's cap: its entries decide what integrity checks compare and which devices a binary
//! holds. Writing is atomic (a new file in the same folder, renamed over the old one) and does
//! not `fsync`: a cache lost to a power cut only costs one re-reading.

use hvguard_core::{FileIdentity, HostRoot};
use rustix::fs::{Mode, OFlags};
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// Where root keeps its cache files.
pub const SYSTEM_DIR: &str = "/var/cache/hvguard";

/// The environment variable that moves the cache folder.
pub const DIR_ENV: &str = "HVGUARD_CACHE_DIR";

/// `--root` cache files of one kind kept in a folder; past this the least recently written go.
pub const MAX_ROOT_FILES: usize = 16;

/// A temporary file older than this was left by a killed hvguard.
const STALE_TEMP: Duration = Duration::from_secs(600);
/// Folder entries looked at when pruning (the folder holds a handful).
const MAX_DIR_ENTRIES: usize = 1024;

/// Why a cache file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("{}: {what}: {error}", .path.display())]
pub struct CacheFileError {
    pub path: PathBuf,
    pub what: &'static str,
    pub error: std::io::Error,
}

/// The cache folder: `$HVGUARD_CACHE_DIR` when set, else [`SYSTEM_DIR`] as root, else the
/// user's XDG cache folder; `None` when none can be named.
pub fn cache_dir() -> Option<PathBuf> {
    cache_dir_for(
        std::env::var_os(DIR_ENV),
        rustix::process::geteuid().is_root(),
        std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from),
        std::env::var_os("HOME").map(PathBuf::from),
    )
}

/// [`cache_dir`]'s decision with its inputs made explicit, so it can be tested.
pub fn cache_dir_for(
    explicit: Option<OsString>,
    is_root: bool,
    xdg_cache_home: Option<PathBuf>,
    home: Option<PathBuf>,
) -> Option<PathBuf> {
    if let Some(dir) = explicit.filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    if is_root {
        return Some(PathBuf::from(SYSTEM_DIR));
    }
    // The XDG spec says a relative XDG_CACHE_HOME is invalid and must be ignored.
    if let Some(xdg) = xdg_cache_home.filter(|p| p.is_absolute()) {
        return Some(xdg.join("hvguard"));
    }
    home.filter(|p| p.is_absolute())
        .map(|h| h.join(".cache").join("hvguard"))
}

/// The file name of `stem`'s cache for `root` (`digests-live`, `binfacts-root-<16 hex>`).
pub fn file_name(stem: &str, root: &HostRoot) -> String {
    if root.is_live() {
        return format!("{stem}-live");
    }
    let key = Sha256::digest(root.base().as_os_str().as_bytes());
    let mut name = format!("{stem}-root-");
    for byte in &key[..8] {
        let _ = write!(name, "{byte:02x}");
    }
    name
}

/// True for a running host's cache file (`<stem>-live`): writing one needs no pruning, since
/// only `--root` files pile up.
pub fn is_live_file(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.as_bytes().ends_with(b"-live"))
}

/// One host root's file of one cache (`stem`) in a cache folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootFile {
    path: PathBuf,
    root: PathBuf,
    stem: &'static str,
}

impl RootFile {
    /// The `stem` cache file of `root` in the folder `dir`.
    pub fn for_root(dir: &Path, stem: &'static str, root: &HostRoot) -> RootFile {
        RootFile {
            path: dir.join(file_name(stem, root)),
            root: root.base().to_path_buf(),
            stem,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The root the file is written for (its `root` line).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file's text when it is trusted and at most `max_bytes` ([`read_trusted`]).
    pub fn read(&self, max_bytes: u64) -> Option<String> {
        read_trusted(&self.path, max_bytes)
    }

    /// Replaces the file with `text`: creates the folder (mode 0700) when missing, refuses
    /// one that others may write, writes atomically, then prunes old `--root` files.
    pub fn write(&self, text: &str) -> Result<(), CacheFileError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        prepare_dir(dir)?;
        write_atomic(&self.path, text)?;
        if !is_live_file(&self.path) {
            prune(dir, self.stem);
        }
        Ok(())
    }
}

/// The file identity that starts every cache line: device, inode, size, mtime and ctime
/// (nanoseconds), each field taken from `fields`.
pub fn parse_identity<'a>(fields: &mut impl Iterator<Item = &'a str>) -> Option<FileIdentity> {
    Some(FileIdentity {
        device: fields.next()?.parse().ok()?,
        inode: fields.next()?.parse().ok()?,
        size: fields.next()?.parse().ok()?,
        mtime_ns: fields.next()?.parse().ok()?,
        ctime_ns: fields.next()?.parse().ok()?,
    })
}

/// Appends `identity` as [`parse_identity`] reads it, without a trailing space.
pub fn push_identity(out: &mut String, identity: &FileIdentity) {
    let i = identity;
    let _ = write!(
        out,
        "{} {} {} {} {}",
        i.device, i.inode, i.size, i.mtime_ns, i.ctime_ns
    );
}

/// The `root` line of a cache file for `root`: bytes outside 0x21..=0x7e and `%` as `%XX`.
pub fn root_line(root: &Path) -> String {
    let mut line = String::from("root ");
    push_escaped(&mut line, root.as_os_str().as_bytes());
    line
}

/// Appends `bytes` with every byte outside 0x21..=0x7e, and `%`, written as `%XX`: the result
/// holds no space, no line break and no control character.
pub fn push_escaped(out: &mut String, bytes: &[u8]) {
    for &byte in bytes {
        if (0x21..=0x7e).contains(&byte) && byte != b'%' {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

/// The bytes [`push_escaped`] wrote as `text`; `None` when `text` is not its output (a byte
/// it would have escaped, or a malformed `%XX`), so each value has one spelling only.
pub fn unescape(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            if !hex.bytes().all(|h| matches!(h, b'0'..=b'9' | b'A'..=b'F')) {
                return None;
            }
            let value = u8::from_str_radix(hex, 16).ok()?;
            if (0x21..=0x7e).contains(&value) && value != b'%' {
                return None;
            }
            out.push(value);
            i += 3;
        } else if (0x21..=0x7e).contains(&b) {
            out.push(b);
            i += 1;
        } else {
            return None;
        }
    }
    Some(out)
}

/// The text of the cache file at `path` when it is trusted (see the module documentation) and
/// at most `max_bytes` long; `None` otherwise, or when it is missing or not UTF-8.
pub fn read_trusted(path: &Path, max_bytes: u64) -> Option<String> {
    // O_NOFOLLOW: not through a link; O_NONBLOCK: a FIFO planted here cannot hang the scan.
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let file = File::from(fd);
    let meta = file.metadata().ok()?;
    // One link: a hard link elsewhere could be changed by whoever owns that folder.
    let trusted = meta.is_file()
        && meta.nlink() == 1
        && meta.uid() == rustix::process::geteuid().as_raw()
        && meta.mode() & 0o022 == 0
        && meta.len() <= max_bytes;
    if !trusted {
        return None;
    }
    let mut text = String::new();
    file.take(max_bytes).read_to_string(&mut text).ok()?;
    Some(text)
}

/// Creates `dir` (mode 0700) when missing, and refuses one that belongs to another user or
/// that others may write.
pub fn prepare_dir(dir: &Path) -> Result<(), CacheFileError> {
    let dir_err = |what: &'static str| {
        move |error: std::io::Error| CacheFileError {
            path: dir.to_path_buf(),
            what,
            error,
        }
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(dir_err("creating the cache folder"))?;
    let meta = std::fs::metadata(dir).map_err(dir_err("reading the cache folder"))?;
    if meta.uid() != rustix::process::geteuid().as_raw() || meta.mode() & 0o022 != 0 {
        return Err(dir_err("not used")(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "the folder belongs to another user or others may write to it",
        )));
    }
    Ok(())
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Replaces the file at `path` with `text`: a new file (mode 0600) in the same folder, renamed
/// over the old one; no `fsync`. The folder must exist.
pub fn write_atomic(path: &Path, text: &str) -> Result<(), CacheFileError> {
    let err = |what: &'static str| {
        move |error: std::io::Error| CacheFileError {
            path: path.to_path_buf(),
            what,
            error,
        }
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidInput))
        .map_err(err("not a file name"))?;
    let temp = path.with_file_name(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let fd = rustix::fs::open(
        &temp,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .map_err(|e| err("creating the new cache file")(e.into()))?;
    let written = File::from(fd)
        .write_all(text.as_bytes())
        .map_err(err("writing the new cache file"))
        .and_then(|()| std::fs::rename(&temp, path).map_err(err("replacing the cache file")));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// Keeps the newest [`MAX_ROOT_FILES`] `--root` cache files of `stem` in `dir` and removes the
/// temporary files of `stem` killed runs left behind. Best effort: a cache folder is nobody's
/// data.
pub fn prune(dir: &Path, stem: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let root_prefix = format!("{stem}-root-");
    let temp_prefix = format!(".{stem}-");
    let me = rustix::process::geteuid().as_raw();
    let now = SystemTime::now();
    let mut roots: Vec<(SystemTime, PathBuf)> = Vec::new();
    for entry in entries.take(MAX_DIR_ENTRIES).flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        if !meta.is_file() || meta.uid() != me {
            continue;
        }
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        if name.starts_with(&root_prefix) {
            roots.push((modified, entry.path()));
        } else if name.starts_with(&temp_prefix)
            && name.contains(".tmp-")
            && now.duration_since(modified).unwrap_or_default() > STALE_TEMP
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    if roots.len() > MAX_ROOT_FILES {
        roots.sort();
        for (_, path) in &roots[..roots.len() - MAX_ROOT_FILES] {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn escaping_round_trips_and_has_one_spelling() {
        for bytes in [
            &b"QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7)"[..],
            b"%\n\xc3\xa9 \x7f\x00",
            b"",
        ] {
            let mut text = String::new();
            push_escaped(&mut text, bytes);
            assert!(!text.contains([' ', '\n']), "{text}");
            assert_eq!(unescape(&text).unwrap(), bytes);
        }
        // An escaped byte that needs no escape, lowercase hex, a cut escape, a raw space.
        for bad in ["%41", "%0a", "%2", "%", "a b", "\u{e9}"] {
            assert_eq!(unescape(bad), None, "{bad}");
        }
    }

    #[test]
    fn file_names_name_the_stem_and_the_root() {
        assert_eq!(file_name("binfacts", &HostRoot::live()), "binfacts-live");
        let tree = tempfile::tempdir().unwrap();
        let name = file_name("binfacts", &HostRoot::new(tree.path()).unwrap());
        assert!(name.starts_with("binfacts-root-") && name.len() == 14 + 16);
    }
}
