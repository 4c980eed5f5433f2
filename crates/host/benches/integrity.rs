//! The package-integrity check on this machine's real hypervisor layer (Debian's QEMU,
//! SeaBIOS, iPXE: ~130 files, ~100 MB): cold (every file hashed), on a warm digest cache
//! (one `stat` per file, nothing read), and on the cache file a plain scan without a store
//! reads (read, check, parse, then the same `stat`s).
//!
//! Run: `cargo bench -p hvguard-host --bench integrity`

#![allow(clippy::expect_used, clippy::unwrap_used)]

use hvguard_core::HostRoot;
use hvguard_host::integrity::{self, cache_file, digest::DigestCache};
use hvguard_host::{hypervisors, packages};

fn main() {
    divan::main();
}

struct Layer {
    root: HostRoot,
    packages: hvguard_core::Probe<Vec<hvguard_core::Package>>,
    hypervisors: Vec<hvguard_core::Hypervisor>,
}

fn layer() -> Layer {
    let root = HostRoot::live();
    let packages = packages::read_installed(&root);
    let hypervisors = hypervisors::discover(&root, &packages, &[]).hypervisors;
    Layer {
        root,
        packages,
        hypervisors,
    }
}

/// Digests as the store would hold them after one scan (files changed in the last seconds
/// are never cached, so the warm cache is built with no racy window).
fn warm(l: &Layer) -> Vec<hvguard_core::CachedDigest> {
    let mut cache = DigestCache::default().with_racy_window_ns(0);
    integrity::collect(&l.root, &l.packages, &l.hypervisors, &mut cache);
    cache.fresh().to_vec()
}

#[divan::bench(sample_count = 200)]
fn warm_cache(bencher: divan::Bencher) {
    let l = layer();
    let entries = warm(&l);
    bencher
        .with_inputs(|| DigestCache::new(entries.clone()))
        .bench_local_refs(|cache| {
            let facts = integrity::collect(&l.root, &l.packages, &l.hypervisors, cache);
            assert_eq!(cache.stats().1, 0, "a warm cache reads no file");
            facts
        });
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn cold_no_cache(bencher: divan::Bencher) {
    let l = layer();
    bencher.bench_local(|| {
        let mut cache = DigestCache::default();
        integrity::collect(&l.root, &l.packages, &l.hypervisors, &mut cache)
    });
}

/// What a plain `scan` without a store does: the cache file read and trusted, parsed, then the
/// layer checked against it; nothing is hashed and (nothing being new) nothing written.
#[divan::bench(sample_count = 200)]
fn warm_cache_file(bencher: divan::Bencher) {
    let l = layer();
    let dir = tempfile::tempdir().unwrap();
    let file = cache_file::CacheFile::for_root(dir.path(), &l.root);
    let mut first = DigestCache::default().with_racy_window_ns(0);
    integrity::collect(&l.root, &l.packages, &l.hypervisors, &mut first);
    assert!(file.save(&first).unwrap());
    bencher.bench_local(|| {
        let mut cache = DigestCache::new(file.load());
        let facts = integrity::collect(&l.root, &l.packages, &l.hypervisors, &mut cache);
        assert_eq!(cache.stats().1, 0, "a warm cache file reads no layer file");
        assert!(!file.save(&cache).unwrap(), "nothing new, nothing written");
        facts
    });
}

/// Parsing a full cache file ([`cache_file::MAX_ENTRIES`] entries, about 600 KB): the most a
/// file left by many package updates can cost.
#[divan::bench(sample_count = 100)]
fn parse_full_cache_file(bencher: divan::Bencher) {
    use hvguard_core::{CachedDigest, DigestAlgorithm, FileIdentity};
    let entries: Vec<CachedDigest> = (0..cache_file::MAX_ENTRIES as u64)
        .map(|i| CachedDigest {
            identity: FileIdentity {
                device: 65024,
                inode: 786_458 + i,
                size: 18_397_984 + i,
                mtime_ns: 1_612_718_750_000_000_000,
                ctime_ns: 1_795_954_661_941_978_109 + i as i64,
            },
            algorithm: DigestAlgorithm::Sha256,
            digest: format!("{i:064x}"),
        })
        .collect();
    let root = std::path::Path::new("/");
    let text = cache_file::render(root, &entries);
    bencher.bench(|| cache_file::parse(divan::black_box(&text), root).len());
}
