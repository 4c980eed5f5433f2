//! Hashing files under the root, with a cache keyed by what `stat` says about them, so that an
//! unchanged binary is hashed once, not on every scan.

use hvguard_core::{CachedDigest, DigestAlgorithm, FileIdentity, HostRoot, RootError};
use md5::Md5;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::fs::Metadata;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// No hypervisor binary, module or firmware file comes near this; a larger file is reported as
/// unreadable rather than hashed.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// Bytes one collection may hash in all (cache misses only): bounds a scan without a store, or
/// of a root full of planted huge files.
pub const DEFAULT_BUDGET_BYTES: u64 = 4 << 30;

/// A file changed this recently is hashed but not cached: timestamps are only as fine as the
/// kernel's clock tick, so a second write within the same tick would keep the identity while
/// changing the bytes (git's "racily clean" problem).
pub const RACY_WINDOW_NS: i64 = 2_000_000_000;

/// Digests already known, plus the ones computed during this collection (to be saved).
#[derive(Debug)]
pub struct DigestCache {
    known: HashMap<(FileIdentity, DigestAlgorithm), String>,
    /// The entries the cache was built with, in their order (for [`DigestCache::to_keep`]).
    initial: Vec<(FileIdentity, DigestAlgorithm)>,
    /// Initial entries this collection used.
    used: HashSet<(FileIdentity, DigestAlgorithm)>,
    fresh: Vec<CachedDigest>,
    budget: u64,
    racy_window_ns: i64,
    hits: u64,
    misses: u64,
}

impl Default for DigestCache {
    fn default() -> Self {
        DigestCache::new(Vec::new())
    }
}

/// Why a file could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error(transparent)]
    Root(#[from] RootError),
    #[error("{}: larger than the {limit}-byte limit for hashing", .path.display())]
    TooLarge {
        path: std::path::PathBuf,
        limit: u64,
    },
    #[error("{}: not hashed, the scan's hashing budget of {budget} bytes is spent", .path.display())]
    BudgetSpent {
        path: std::path::PathBuf,
        budget: u64,
    },
    /// The cause is in the message and not exposed again as a `source()`: printed once.
    #[error("{}: {cause}", .path.display())]
    Read {
        path: std::path::PathBuf,
        cause: std::io::Error,
    },
}

impl DigestError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, DigestError::Root(e) if e.is_not_found())
    }
}

impl DigestCache {
    /// A cache holding `entries` (as the store kept them).
    pub fn new(entries: Vec<CachedDigest>) -> Self {
        let initial = entries.iter().map(|e| (e.identity, e.algorithm)).collect();
        let known = entries
            .into_iter()
            .map(|e| ((e.identity, e.algorithm), e.digest))
            .collect();
        DigestCache {
            known,
            initial,
            used: HashSet::new(),
            fresh: Vec::new(),
            budget: DEFAULT_BUDGET_BYTES,
            racy_window_ns: RACY_WINDOW_NS,
            hits: 0,
            misses: 0,
        }
    }

    /// Limits the bytes hashed on cache misses from now on.
    pub fn with_budget(mut self, bytes: u64) -> Self {
        self.budget = bytes;
        self
    }

    /// Changes how recent a change must be for the file not to be cached (tests use 0).
    pub fn with_racy_window_ns(mut self, ns: i64) -> Self {
        self.racy_window_ns = ns;
        self
    }

    /// Digests computed since the cache was built, for the caller to save.
    pub fn fresh(&self) -> &[CachedDigest] {
        &self.fresh
    }

    /// (hits, misses) so far.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }

    /// Entries this collection used or computed: what the next collection of the same root
    /// will look up again.
    pub fn entries_in_use(&self) -> usize {
        self.fresh.len() + self.used.len()
    }

    /// At most `limit` entries worth keeping for the next collection, most useful first: the
    /// digests computed now, then the known ones this collection used, then the other known
    /// ones in the order they came (so a bounded cache file drops what no scan needs any more,
    /// such as the files a package update replaced).
    pub fn to_keep(&self, limit: usize) -> Vec<CachedDigest> {
        let entry = |key: &(FileIdentity, DigestAlgorithm)| {
            self.known.get(key).map(|digest| CachedDigest {
                identity: key.0,
                algorithm: key.1,
                digest: digest.clone(),
            })
        };
        let mut seen: HashSet<(FileIdentity, DigestAlgorithm)> = HashSet::new();
        let fresh = self.fresh.iter().cloned();
        let used = self
            .initial
            .iter()
            .filter(|k| self.used.contains(*k))
            .filter_map(entry);
        let rest = self
            .initial
            .iter()
            .filter(|k| !self.used.contains(*k))
            .filter_map(entry);
        fresh
            .chain(used)
            .chain(rest)
            .filter(|e| seen.insert((e.identity, e.algorithm)))
            .take(limit)
            .collect()
    }

    /// The digests of `host_path` in each of `algorithms` (in that order): from the cache when
    /// the file's identity is unchanged, else by reading it once.
    pub fn digests(
        &mut self,
        root: &HostRoot,
        host_path: &Path,
        algorithms: &[DigestAlgorithm],
    ) -> Result<Vec<String>, DigestError> {
        // A stat is enough to know the cache still holds: no open, no read.
        let meta = root.metadata(host_path)?;
        if meta.is_file() {
            let identity = identity_of(&meta);
            let cached: Option<Vec<String>> = algorithms
                .iter()
                .map(|a| self.known.get(&(identity, *a)).cloned())
                .collect();
            if let Some(found) = cached {
                self.hits += 1;
                self.used.extend(algorithms.iter().map(|a| (identity, *a)));
                return Ok(found);
            }
        }
        self.misses += 1;
        // Identity from the opened file, so the cache key describes the bytes hashed.
        let (file, meta) = root.open_file(host_path)?;
        let identity = identity_of(&meta);
        if meta.len() > MAX_FILE_BYTES {
            return Err(DigestError::TooLarge {
                path: host_path.to_path_buf(),
                limit: MAX_FILE_BYTES,
            });
        }
        if meta.len() > self.budget {
            return Err(DigestError::BudgetSpent {
                path: host_path.to_path_buf(),
                budget: DEFAULT_BUDGET_BYTES,
            });
        }
        let (digests, read) =
            hash_reader(file.take(MAX_FILE_BYTES + 1), algorithms).map_err(|cause| {
                DigestError::Read {
                    path: host_path.to_path_buf(),
                    cause,
                }
            })?;
        self.budget = self.budget.saturating_sub(read);
        if read > MAX_FILE_BYTES {
            return Err(DigestError::TooLarge {
                path: host_path.to_path_buf(),
                limit: MAX_FILE_BYTES,
            });
        }
        // A file that grew or shrank while being read, or changed within the last clock ticks,
        // is hashed again next time.
        let settled = now_ns().saturating_sub(identity.ctime_ns.max(identity.mtime_ns))
            >= self.racy_window_ns;
        if read == identity.size && settled {
            for (algorithm, digest) in algorithms.iter().zip(&digests) {
                if self
                    .known
                    .insert((identity, *algorithm), digest.clone())
                    .is_none()
                {
                    self.fresh.push(CachedDigest {
                        identity,
                        algorithm: *algorithm,
                        digest: digest.clone(),
                    });
                }
            }
        }
        Ok(digests)
    }
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Device, inode, size and both timestamps, as the cache key.
pub fn identity_of(meta: &Metadata) -> FileIdentity {
    let ns = |secs: i64, nsecs: i64| secs.saturating_mul(1_000_000_000).saturating_add(nsecs);
    FileIdentity {
        device: meta.dev(),
        inode: meta.ino(),
        size: meta.len(),
        mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
        ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
    }
}

/// Hashes everything `reader` yields in one pass; returns the hex digests and the byte count.
pub fn hash_reader<R: Read>(
    mut reader: R,
    algorithms: &[DigestAlgorithm],
) -> std::io::Result<(Vec<String>, u64)> {
    let mut md5 = algorithms.contains(&DigestAlgorithm::Md5).then(Md5::new);
    let mut sha = algorithms
        .contains(&DigestAlgorithm::Sha256)
        .then(Sha256::new);
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        total += n as u64;
        if let Some(h) = md5.as_mut() {
            h.update(&buf[..n]);
        }
        if let Some(h) = sha.as_mut() {
            h.update(&buf[..n]);
        }
    }
    let md5 = md5.map(|h| hex(&h.finalize()));
    let sha = sha.map(|h| hex(&h.finalize()));
    let digests = algorithms
        .iter()
        .map(|a| match a {
            DigestAlgorithm::Md5 => md5.clone().unwrap_or_default(),
            DigestAlgorithm::Sha256 => sha.clone().unwrap_or_default(),
        })
        .collect();
    Ok((digests, total))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn known_answers() {
        let (d, n) = hash_reader(
            &b"abc"[..],
            &[DigestAlgorithm::Sha256, DigestAlgorithm::Md5],
        )
        .unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            d[0],
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d[1], "900150983cd24fb0d6963f7d28e17f72");
    }

    #[test]
    fn unchanged_files_come_from_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("usr/bin")).unwrap();
        fs::write(dir.path().join("usr/bin/qemu"), b"abc").unwrap();
        let root = HostRoot::new(dir.path()).unwrap();
        let path = Path::new("/usr/bin/qemu");
        let mut cache = DigestCache::default().with_racy_window_ns(0);
        let first = cache.digests(&root, path, &[DigestAlgorithm::Md5]).unwrap();
        assert_eq!(cache.stats(), (0, 1));
        assert_eq!(cache.fresh().len(), 1);
        // A new cache seeded with what the first one learnt does not read the file again.
        let mut warm = DigestCache::new(cache.fresh().to_vec()).with_budget(0);
        let again = warm.digests(&root, path, &[DigestAlgorithm::Md5]).unwrap();
        assert_eq!(first, again);
        assert_eq!(warm.stats(), (1, 0));
        // Rewriting the file changes its identity: hashed again (and the budget of 0 says so).
        fs::write(dir.path().join("usr/bin/qemu"), b"abcd").unwrap();
        let err = warm
            .digests(&root, path, &[DigestAlgorithm::Md5])
            .unwrap_err();
        assert!(matches!(err, DigestError::BudgetSpent { .. }), "{err}");
    }

    #[test]
    fn entries_worth_keeping_come_fresh_then_used_then_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a", "b"] {
            fs::write(dir.path().join(name), name).unwrap();
        }
        let root = HostRoot::new(dir.path()).unwrap();
        let md5 = [DigestAlgorithm::Md5];
        let mut first = DigestCache::default().with_racy_window_ns(0);
        first.digests(&root, Path::new("/a"), &md5).unwrap();
        let a = first.fresh()[0].clone();
        let stale = CachedDigest {
            // A file a package update replaced long ago (not b: inodes are often consecutive
            // and timestamps coarse, so a near copy of a's identity could be b's).
            identity: FileIdentity {
                mtime_ns: 1,
                ctime_ns: 1,
                ..a.identity
            },
            ..a.clone()
        };
        // The cache file holds a stale entry, then a; this collection uses a and hashes b.
        let mut cache = DigestCache::new(vec![stale.clone(), a.clone()]).with_racy_window_ns(0);
        cache.digests(&root, Path::new("/a"), &md5).unwrap();
        cache.digests(&root, Path::new("/b"), &md5).unwrap();
        let b = cache.fresh()[0].clone();
        assert_eq!(cache.entries_in_use(), 2);
        assert_eq!(cache.to_keep(10), [b.clone(), a.clone(), stale]);
        assert_eq!(cache.to_keep(2), [b, a]);
    }

    #[test]
    fn files_changed_a_moment_ago_are_not_cached() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("qemu"), b"abc").unwrap();
        let root = HostRoot::new(dir.path()).unwrap();
        let mut cache = DigestCache::default();
        cache
            .digests(&root, Path::new("/qemu"), &[DigestAlgorithm::Sha256])
            .unwrap();
        assert!(cache.fresh().is_empty());
    }
}
