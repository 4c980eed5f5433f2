//! Facts read out of binaries (a hypervisor's version banner, a QEMU build's QOM type names,
//! containerd's built-in version), cached by the file's identity like the digest cache
//! ([`crate::integrity::digest`]): they only change when the file does, and reading them costs
//! about 15 MB of `.rodata` and binary per scan of a Debian QEMU host.
//!
//! A fact is only cached when it was read whole: not cut by the binary scan budget, not
//! failed, and from a file whose identity did not change while it was read nor within the
//! last [`RACY_WINDOW_NS`] (a second write in the same clock tick would keep the identity).

pub mod file;

use crate::containerd::FoundVersion;
use crate::hypervisors::qom::TypeNames;
use crate::hypervisors::scan::VersionMatch;
use crate::integrity::digest::{identity_of, RACY_WINDOW_NS};
use hvguard_core::{FileIdentity, HypervisorKind};
use std::collections::{HashMap, HashSet};
use std::fs::{File, Metadata};

/// What was asked of a binary: the answer depends on the question as well as on the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FactQuery {
    /// The version banner search with the banners of this kind (`None`: every banner).
    Version(Option<HypervisorKind>),
    /// The QOM type names of a QEMU system emulator.
    TypeNames,
    /// containerd's built-in version.
    ContainerdVersion,
}

/// The answer to a [`FactQuery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    Version(Option<VersionMatch>),
    TypeNames(TypeNames),
    ContainerdVersion(Option<FoundVersion>),
}

impl Fact {
    /// Whether this fact answers `query` (a cache file could pair them otherwise).
    pub fn answers(&self, query: FactQuery) -> bool {
        matches!(
            (self, query),
            (Fact::Version(_), FactQuery::Version(_))
                | (Fact::TypeNames(_), FactQuery::TypeNames)
                | (Fact::ContainerdVersion(_), FactQuery::ContainerdVersion)
        )
    }
}

/// One cached fact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedFact {
    pub identity: FileIdentity,
    pub query: FactQuery,
    pub fact: Fact,
}

/// Facts already known, plus the ones read during this collection (to be saved).
#[derive(Debug)]
pub struct BinaryFactsCache {
    known: HashMap<(FileIdentity, FactQuery), Fact>,
    /// The keys the cache was built with, in their order (for [`BinaryFactsCache::to_keep`]).
    initial: Vec<(FileIdentity, FactQuery)>,
    /// Initial keys this collection used.
    used: HashSet<(FileIdentity, FactQuery)>,
    fresh: Vec<(FileIdentity, FactQuery)>,
    racy_window_ns: i64,
    hits: u64,
    misses: u64,
}

impl Default for BinaryFactsCache {
    fn default() -> Self {
        BinaryFactsCache::new(Vec::new())
    }
}

impl BinaryFactsCache {
    /// A cache holding `entries` (as a cache file kept them); an entry whose fact does not
    /// answer its query is dropped.
    pub fn new(entries: Vec<CachedFact>) -> Self {
        let mut known = HashMap::with_capacity(entries.len());
        let mut initial = Vec::with_capacity(entries.len());
        for e in entries {
            if e.fact.answers(e.query) && !known.contains_key(&(e.identity, e.query)) {
                initial.push((e.identity, e.query));
                known.insert((e.identity, e.query), e.fact);
            }
        }
        BinaryFactsCache {
            known,
            initial,
            used: HashSet::new(),
            fresh: Vec::new(),
            racy_window_ns: RACY_WINDOW_NS,
            hits: 0,
            misses: 0,
        }
    }

    /// Changes how recent a change must be for a fact not to be cached (tests use 0).
    pub fn with_racy_window_ns(mut self, ns: i64) -> Self {
        self.racy_window_ns = ns;
        self
    }

    /// (hits, misses) so far.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }

    /// True when this collection read a fact worth saving.
    pub fn has_fresh(&self) -> bool {
        !self.fresh.is_empty()
    }

    /// Entries this collection used or read: what the next collection will look up again.
    pub fn entries_in_use(&self) -> usize {
        self.fresh.len() + self.used.len()
    }

    /// The answer to `query` for the file `meta` describes (a `stat` of it), when known.
    pub fn lookup(&mut self, meta: &Metadata, query: FactQuery) -> Option<Fact> {
        if !meta.is_file() {
            return None;
        }
        let key = (identity_of(meta), query);
        match self.known.get(&key) {
            Some(fact) => {
                self.hits += 1;
                self.used.insert(key);
                Some(fact.clone())
            }
            None => {
                self.misses += 1;
                None
            }
        }
    }

    /// Remembers `fact`, read from `file` whose metadata at opening was `opened`: only when
    /// the file still has that identity (it did not change while being read) and did not
    /// change within the racy window.
    pub fn record(&mut self, file: &File, opened: &Metadata, query: FactQuery, fact: Fact) {
        let identity = identity_of(opened);
        let unchanged = file
            .metadata()
            .is_ok_and(|now| now.is_file() && identity_of(&now) == identity);
        let settled = now_ns().saturating_sub(identity.ctime_ns.max(identity.mtime_ns))
            >= self.racy_window_ns;
        if !(unchanged && settled && fact.answers(query)) {
            return;
        }
        let key = (identity, query);
        if self.known.insert(key, fact).is_none() {
            self.fresh.push(key);
        }
    }

    /// At most `limit` entries worth keeping for the next collection, most useful first: the
    /// facts read now, then the known ones this collection used, then the other known ones
    /// in the order they came (so a bounded file drops what no scan needs any more).
    pub fn to_keep(&self, limit: usize) -> Vec<CachedFact> {
        let mut seen: HashSet<(FileIdentity, FactQuery)> = HashSet::new();
        let used = self.initial.iter().filter(|k| self.used.contains(*k));
        let rest = self.initial.iter().filter(|k| !self.used.contains(*k));
        self.fresh
            .iter()
            .chain(used)
            .chain(rest)
            .filter(|k| seen.insert(**k))
            .filter_map(|key| {
                self.known.get(key).map(|fact| CachedFact {
                    identity: key.0,
                    query: key.1,
                    fact: fact.clone(),
                })
            })
            .take(limit)
            .collect()
    }
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn fact(version: &str) -> Fact {
        Fact::ContainerdVersion(Some(FoundVersion {
            version: version.to_string(),
            evidence: format!("{version}+unknown"),
        }))
    }

    #[test]
    fn a_fact_is_found_again_until_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("containerd");
        std::fs::write(&path, b"1.6.20+unknown").unwrap();
        let file = File::open(&path).unwrap();
        let opened = file.metadata().unwrap();
        let mut cache = BinaryFactsCache::default().with_racy_window_ns(0);
        let q = FactQuery::ContainerdVersion;
        assert_eq!(cache.lookup(&opened, q), None);
        cache.record(&file, &opened, q, fact("1.6.20"));
        let mut warm = BinaryFactsCache::new(cache.to_keep(10));
        assert_eq!(warm.lookup(&opened, q), Some(fact("1.6.20")));
        // Another question about the same file is not answered by it.
        assert_eq!(warm.lookup(&opened, FactQuery::TypeNames), None);
        assert_eq!(warm.stats(), (1, 1));
        std::fs::write(&path, b"1.7.0+unknown").unwrap();
        assert_eq!(warm.lookup(&std::fs::metadata(&path).unwrap(), q), None);
    }

    #[test]
    fn facts_of_a_file_changed_a_moment_ago_or_while_read_are_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qemu");
        std::fs::write(&path, b"x").unwrap();
        let file = File::open(&path).unwrap();
        let opened = file.metadata().unwrap();
        let mut cache = BinaryFactsCache::default();
        cache.record(&file, &opened, FactQuery::ContainerdVersion, fact("1.0"));
        assert!(!cache.has_fresh(), "within the racy window");
        let mut cache = BinaryFactsCache::default().with_racy_window_ns(0);
        std::fs::write(&path, b"changed while read").unwrap();
        cache.record(&file, &opened, FactQuery::ContainerdVersion, fact("1.0"));
        assert!(!cache.has_fresh(), "identity changed after opening");
        // An answer to another question is refused too.
        let opened = file.metadata().unwrap();
        cache.record(&file, &opened, FactQuery::TypeNames, fact("1.0"));
        assert!(!cache.has_fresh());
        cache.record(&file, &opened, FactQuery::ContainerdVersion, fact("1.0"));
        assert!(cache.has_fresh());
    }

    #[test]
    fn mismatched_entries_are_dropped_and_kept_entries_come_fresh_then_used() {
        let identity = |inode| FileIdentity {
            device: 1,
            inode,
            size: 2,
            mtime_ns: 3,
            ctime_ns: 4,
        };
        let entry = |inode, query, fact| CachedFact {
            identity: identity(inode),
            query,
            fact,
        };
        let bad = entry(1, FactQuery::TypeNames, fact("1.0"));
        let stale = entry(2, FactQuery::ContainerdVersion, fact("0.9"));
        let cache = BinaryFactsCache::new(vec![bad, stale.clone()]);
        assert_eq!(cache.to_keep(10), [stale]);
    }
}
