//! The digest cache as a small file, for collections that have no store holding one (a plain
//! `scan` on a host where `db update` and `scan --record` never ran, `collect`, `advisories`):
//! without it every such collection would hash the whole hypervisor layer again (about 100 MB,
//! 0.2-0.6 s on a Debian QEMU host).
//!
//! One file per host root, in a folder only its owner may write (`/var/cache/hvguard/` for
//! root): `digests-live` for the running host, `digests-root-<16 hex>` for a `--root` tree
//! (the folder, naming, trust and writing rules are [`crate::cache_folder`]'s, shared with the
//! binary facts cache). Format (text, one entry per line, fields separated by one space):
//!
//! ```text
//! hvguard-digest-cache v1
//! root <the root's path, bytes outside 0x21..=0x7e and `%` as %XX>
//! <device> <inode> <size> <mtime_ns> <ctime_ns> <md5|sha256> <lowercase hex digest>
//! ```
//!
//! The file is only a cache, so reading it never fails a collection: a missing, oversized,
//! foreign (another root's) or damaged file reads as empty, and a damaged line is skipped. It
//! is trusted only when it is a regular file (not reached through a symbolic link, one link
//! only) owned by the caller and not writable by group or others, because its entries decide
//! what `hypervisor.binary-modified` compares. Writing is atomic (a new file in the same
//! folder, renamed over the old one) and does not `fsync`: a cache lost to a power cut only
//! costs one hashing.

use super::digest::DigestCache;
use crate::cache_folder::{self, root_line, RootFile};
use hvguard_core::{CachedDigest, DigestAlgorithm, HostRoot};
use std::fmt::Write as _;
use std::path::Path;

pub use crate::cache_folder::{
    cache_dir, cache_dir_for, CacheFileError, DIR_ENV, MAX_ROOT_FILES, SYSTEM_DIR,
};

/// The first line of every cache file.
pub const HEADER: &str = "hvguard-digest-cache v1";

/// Entries written at most. The live layer of a Debian QEMU host has about 130; the rest is
/// room for larger layers.
pub const MAX_ENTRIES: usize = 4096;

/// Entries kept beyond those the collection used or computed (files not looked at this time,
/// such as a binary whose configuration was briefly broken). Every package update leaves its
/// old files' entries behind, and parsing a full file would cost about 0.8 ms on every scan:
/// the spare bounds that to a few dozen microseconds.
pub const SPARE_ENTRIES: usize = 128;

/// A cache file larger than this is not one hvguard wrote (4096 entries take about 600 KB).
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// The file name's stem: `digests-live`, `digests-root-<16 hex>`.
const STEM: &str = "digests";
/// The running host's cache file.
#[cfg(test)]
const LIVE_NAME: &str = "digests-live";
/// Prefix of a `--root` tree's cache file.
#[cfg(test)]
const ROOT_PREFIX: &str = "digests-root-";

/// The cache file of one host root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheFile(RootFile);

impl CacheFile {
    /// The cache file of `root` in the folder `dir`.
    pub fn for_root(dir: &Path, root: &HostRoot) -> CacheFile {
        CacheFile(RootFile::for_root(dir, STEM, root))
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// The entries of the file; empty when it is missing, untrusted, another root's, too
    /// large or unreadable.
    pub fn load(&self) -> Vec<CachedDigest> {
        load(self.0.path(), self.0.root())
    }

    /// Writes what `cache` holds worth keeping ([`DigestCache::to_keep`]: the entries in use,
    /// then up to [`SPARE_ENTRIES`] others) when this collection computed a digest; a
    /// collection that found every digest in the cache writes nothing.
    /// Creates the folder (mode 0700) when missing, and refuses one that others may write.
    /// Returns whether the file was written.
    pub fn save(&self, cache: &DigestCache) -> Result<bool, CacheFileError> {
        if cache.fresh().is_empty() {
            return Ok(false);
        }
        let limit = (cache.entries_in_use() + SPARE_ENTRIES).min(MAX_ENTRIES);
        self.0
            .write(&render(self.0.root(), &cache.to_keep(limit)))?;
        Ok(true)
    }
}

/// The entries of a cache file's text for `root`; lines that do not parse are skipped, and a
/// text without the header or written for another root has none. At most [`MAX_ENTRIES`].
pub fn parse(text: &str, root: &Path) -> Vec<CachedDigest> {
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) || lines.next() != Some(root_line(root).as_str()) {
        return Vec::new();
    }
    lines.filter_map(parse_line).take(MAX_ENTRIES).collect()
}

fn parse_line(line: &str) -> Option<CachedDigest> {
    let mut f = line.split(' ');
    let identity = cache_folder::parse_identity(&mut f)?;
    let algorithm: DigestAlgorithm = f.next()?.parse().ok()?;
    let digest = f.next()?;
    let valid = f.next().is_none()
        && digest.len() == algorithm.hex_len()
        && digest
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    valid.then(|| CachedDigest {
        identity,
        algorithm,
        digest: digest.to_owned(),
    })
}

/// The text of a cache file for `root` holding `entries` (the first [`MAX_ENTRIES`]).
pub fn render(root: &Path, entries: &[CachedDigest]) -> String {
    let mut out = String::with_capacity(64 + entries.len() * 150);
    out.push_str(HEADER);
    out.push('\n');
    out.push_str(&root_line(root));
    out.push('\n');
    for e in entries.iter().take(MAX_ENTRIES) {
        cache_folder::push_identity(&mut out, &e.identity);
        let _ = writeln!(out, " {} {}", e.algorithm.as_str(), e.digest);
    }
    out
}

/// The entries of the cache file at `path` written for `root`; empty when it is missing,
/// untrusted, another root's, too large or unreadable (see the module documentation).
pub fn load(path: &Path, root: &Path) -> Vec<CachedDigest> {
    cache_folder::read_trusted(path, MAX_FILE_BYTES)
        .map_or_else(Vec::new, |text| parse(&text, root))
}

/// Replaces the cache file at `path` with `entries` for `root`: a new file (mode 0600) in the
/// same folder, renamed over the old one; no `fsync`. The folder must exist.
pub fn save(path: &Path, root: &Path, entries: &[CachedDigest]) -> Result<(), CacheFileError> {
    cache_folder::write_atomic(path, &render(root, entries))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use hvguard_core::FileIdentity;
    use rustix::fs::Mode;
    use std::ffi::OsString;
    use std::fs::File;
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;
    use std::time::{Duration, SystemTime};

    const ROOT: &str = "/";

    fn entry(inode: u64, algorithm: DigestAlgorithm) -> CachedDigest {
        CachedDigest {
            identity: FileIdentity {
                device: 2049,
                inode,
                size: 18_397_984,
                mtime_ns: 1_748_131_200_123_456_789,
                ctime_ns: -5,
            },
            algorithm,
            digest: "a".repeat(algorithm.hex_len()),
        }
    }

    fn root() -> &'static Path {
        Path::new(ROOT)
    }

    #[test]
    fn round_trips_and_skips_what_does_not_parse() {
        let entries = vec![
            entry(1, DigestAlgorithm::Md5),
            entry(2, DigestAlgorithm::Sha256),
        ];
        let text = render(root(), &entries);
        assert!(text.starts_with("hvguard-digest-cache v1\nroot /\n2049 1 18397984 "));
        assert_eq!(parse(&text, root()), entries);
        // Damaged lines: uppercase hex, an unknown algorithm, an extra field, a short digest,
        // a number out of range, junk, an empty line, two spaces.
        let damaged = format!(
            "{text}2049 3 1 1 1 md5 {}\n2049 4 1 1 1 sha1 00\n2049 5 1 1 1 md5 {} extra\n\
             2049 6 1 1 1 md5 abc\n-1 7 1 1 1 md5 {}\nx\n\n2049  8 1 1 1 md5 {}\n",
            "A".repeat(32),
            "a".repeat(32),
            "a".repeat(32),
            "a".repeat(32)
        );
        assert_eq!(parse(&damaged, root()), entries);
        assert!(parse(&text.replace("v1", "v2"), root()).is_empty());
        assert!(parse("", root()).is_empty());
        assert!(parse(HEADER, root()).is_empty());
    }

    #[test]
    fn another_roots_file_reads_as_empty() {
        let entries = vec![entry(1, DigestAlgorithm::Md5)];
        let odd = Path::new("/mnt/image one/%\n\u{e9}");
        let text = render(odd, &entries);
        assert!(
            text.contains("\nroot /mnt/image%20one/%25%0A%C3%A9\n"),
            "{text}"
        );
        assert_eq!(parse(&text, odd), entries);
        assert!(parse(&text, root()).is_empty());
        assert!(parse(&render(root(), &entries), odd).is_empty());
        // A root that is a prefix of another is still another root.
        assert!(parse(&render(Path::new("/mnt/a"), &entries), Path::new("/mnt/ab")).is_empty());
    }

    #[test]
    fn at_most_max_entries_are_read_and_written() {
        let entries: Vec<CachedDigest> = (0..MAX_ENTRIES as u64 + 5)
            .map(|i| entry(i, DigestAlgorithm::Md5))
            .collect();
        let text = render(root(), &entries);
        assert!(text.len() as u64 <= MAX_FILE_BYTES);
        assert_eq!(parse(&text, root()), entries[..MAX_ENTRIES]);
        let mut long = text.clone();
        for e in &entries[MAX_ENTRIES..] {
            long.push_str(
                render(root(), std::slice::from_ref(e))
                    .lines()
                    .nth(2)
                    .unwrap(),
            );
            long.push('\n');
        }
        assert_eq!(parse(&long, root()).len(), MAX_ENTRIES);
    }

    #[test]
    fn written_atomically_and_read_only_when_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("digest-cache");
        assert!(load(&path, root()).is_empty());
        let entries: Vec<CachedDigest> = (0..10).map(|i| entry(i, DigestAlgorithm::Md5)).collect();
        save(&path, root(), &entries).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(load(&path, root()), entries);
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // Another root's reader sees nothing.
        assert!(load(&path, Path::new("/mnt")).is_empty());
        // Writable by group or others: not trusted.
        for mode in [0o620, 0o602] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            assert!(load(&path, root()).is_empty(), "{mode:o}");
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(load(&path, root()), entries);
        // Owned by another user: not trusted (only root can hand a file over to test this).
        let me = rustix::process::geteuid().as_raw();
        if me == 0 {
            std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
            assert!(load(&path, root()).is_empty());
            std::os::unix::fs::chown(&path, Some(me), None).unwrap();
            assert_eq!(load(&path, root()), entries);
        } else {
            eprintln!("SKIPPED (part): a file owned by another user needs root to make");
        }
        // Through a symbolic link: not followed.
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(load(&link, root()).is_empty());
        // A second hard link: not trusted.
        let hard = dir.path().join("hard");
        std::fs::hard_link(&path, &hard).unwrap();
        assert!(load(&path, root()).is_empty());
        std::fs::remove_file(&hard).unwrap();
        assert_eq!(load(&path, root()), entries);
        // Larger than a cache file can be: ignored, even with a valid start.
        let big = dir.path().join("big");
        let mut text = render(root(), &entries);
        text.push_str(&"#".repeat(MAX_FILE_BYTES as usize));
        std::fs::write(&big, text).unwrap();
        std::fs::set_permissions(&big, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(load(&big, root()).is_empty());
        // A folder in its place, and a FIFO (which does not hang the read).
        assert!(load(dir.path(), root()).is_empty());
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        assert!(load(&fifo, root()).is_empty());
        // A folder that does not exist: an error naming the file, nothing else happens.
        let e = save(&dir.path().join("missing/digest-cache"), root(), &entries).unwrap_err();
        assert!(e.to_string().contains("missing/digest-cache"), "{e}");
    }

    #[test]
    fn saving_over_a_planted_link_replaces_the_link_not_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "keep me").unwrap();
        let path = dir.path().join("digests-live");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        save(&path, root(), &[entry(1, DigestAlgorithm::Md5)]).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
        assert!(std::fs::symlink_metadata(&path).unwrap().is_file());
        assert_eq!(load(&path, root()).len(), 1);
    }

    #[test]
    fn the_folder_comes_from_the_environment_root_or_xdg() {
        let dir = |explicit: Option<&str>, is_root, xdg: Option<&str>, home: Option<&str>| {
            cache_dir_for(
                explicit.map(OsString::from),
                is_root,
                xdg.map(PathBuf::from),
                home.map(PathBuf::from),
            )
        };
        let p = |s: &str| Some(PathBuf::from(s));
        assert_eq!(dir(Some("/srv/c"), true, None, None), p("/srv/c"));
        assert_eq!(dir(Some(""), true, None, None), p(SYSTEM_DIR));
        assert_eq!(dir(None, true, Some("/x"), Some("/h")), p(SYSTEM_DIR));
        assert_eq!(dir(None, false, Some("/x"), Some("/h")), p("/x/hvguard"));
        assert_eq!(
            dir(None, false, Some("rel"), Some("/h")),
            p("/h/.cache/hvguard")
        );
        assert_eq!(dir(None, false, None, Some("rel")), None);
        assert_eq!(dir(None, false, None, None), None);
    }

    #[test]
    fn each_root_has_its_own_file() {
        let live = CacheFile::for_root(Path::new("/c"), &HostRoot::live());
        assert_eq!(live.path(), Path::new("/c/digests-live"));
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let fa = CacheFile::for_root(Path::new("/c"), &HostRoot::new(a.path()).unwrap());
        let fb = CacheFile::for_root(Path::new("/c"), &HostRoot::new(b.path()).unwrap());
        let name = fa.path().file_name().unwrap().to_str().unwrap().to_string();
        assert!(
            name.starts_with(ROOT_PREFIX) && name.len() == ROOT_PREFIX.len() + 16,
            "{name}"
        );
        assert_ne!(fa.path(), fb.path());
        // The same tree named another way is the same root.
        let again = HostRoot::new(a.path().join(".")).unwrap();
        assert_eq!(CacheFile::for_root(Path::new("/c"), &again), fa);
    }

    #[test]
    fn a_collection_that_hashed_nothing_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cache_dir = dir.path().join("cache");
        let file = CacheFile::for_root(&cache_dir, &HostRoot::live());
        assert!(!file.save(&DigestCache::default()).unwrap());
        assert!(!cache_dir.exists(), "no folder made for nothing");
    }

    #[test]
    fn entries_no_collection_uses_are_kept_only_as_spare() {
        let dir = tempfile::tempdir().unwrap();
        let tree = tempfile::tempdir().unwrap();
        std::fs::write(tree.path().join("f"), "x").unwrap();
        let root = HostRoot::new(tree.path()).unwrap();
        // Left behind by earlier package versions: never looked up again.
        let old: Vec<CachedDigest> = (0..300).map(|i| entry(i, DigestAlgorithm::Md5)).collect();
        let mut cache = DigestCache::new(old.clone()).with_racy_window_ns(0);
        cache
            .digests(&root, Path::new("/f"), &[DigestAlgorithm::Md5])
            .unwrap();
        let file = CacheFile::for_root(dir.path(), &root);
        assert!(file.save(&cache).unwrap());
        let kept = file.load();
        assert_eq!(kept.len(), 1 + SPARE_ENTRIES);
        assert_eq!(kept[0], cache.fresh()[0]);
        assert_eq!(kept[1..], old[..SPARE_ENTRIES]);
    }

    #[test]
    fn a_folder_others_may_write_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let tree = tempfile::tempdir().unwrap();
        std::fs::write(tree.path().join("f"), "x").unwrap();
        let root = HostRoot::new(tree.path()).unwrap();
        let mut cache = DigestCache::default().with_racy_window_ns(0);
        cache
            .digests(&root, Path::new("/f"), &[DigestAlgorithm::Md5])
            .unwrap();
        let cache_dir = dir.path().join("cache");
        let file = CacheFile::for_root(&cache_dir, &root);
        assert!(file.save(&cache).unwrap());
        let made = std::fs::metadata(&cache_dir).unwrap();
        assert_eq!(made.permissions().mode() & 0o777, 0o700);
        assert_eq!(file.load(), cache.fresh());
        std::fs::set_permissions(&cache_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = file.save(&cache).unwrap_err();
        assert!(e.to_string().contains("others may write"), "{e}");
    }

    #[test]
    fn old_root_files_and_stale_temporaries_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let old = SystemTime::now() - Duration::from_secs(3600);
        let set_old = |path: &Path, age: u64| {
            let file = File::options().write(true).open(path).unwrap();
            file.set_modified(old - Duration::from_secs(age)).unwrap();
        };
        for i in 0..MAX_ROOT_FILES {
            let path = dir.path().join(format!("{ROOT_PREFIX}{i:016x}"));
            std::fs::write(&path, "x").unwrap();
            set_old(&path, i as u64);
        }
        std::fs::write(dir.path().join(LIVE_NAME), "x").unwrap();
        set_old(&dir.path().join(LIVE_NAME), 99_999);
        let stale = dir.path().join(".digests-live.tmp-1-0");
        let fresh_temp = dir.path().join(".digests-live.tmp-2-0");
        std::fs::write(&stale, "x").unwrap();
        set_old(&stale, 0);
        std::fs::write(&fresh_temp, "x").unwrap();
        std::fs::write(dir.path().join("unrelated"), "x").unwrap();
        set_old(&dir.path().join("unrelated"), 99_999);
        // One more root: the oldest root file goes, nothing else of the folder's.
        let tree = tempfile::tempdir().unwrap();
        std::fs::write(tree.path().join("f"), "x").unwrap();
        let root = HostRoot::new(tree.path()).unwrap();
        let mut cache = DigestCache::default().with_racy_window_ns(0);
        cache
            .digests(&root, Path::new("/f"), &[DigestAlgorithm::Md5])
            .unwrap();
        let file = CacheFile::for_root(dir.path(), &root);
        assert!(file.save(&cache).unwrap());
        let oldest = dir
            .path()
            .join(format!("{ROOT_PREFIX}{:016x}", MAX_ROOT_FILES - 1));
        assert!(!oldest.exists());
        assert!(!stale.exists());
        for kept in [file.path(), &dir.path().join(LIVE_NAME), &fresh_temp] {
            assert!(kept.exists(), "{}", kept.display());
        }
        assert!(dir.path().join("unrelated").exists());
        let roots = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(ROOT_PREFIX)
            })
            .count();
        assert_eq!(roots, MAX_ROOT_FILES);
    }
}
