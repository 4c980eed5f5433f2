//! The package-integrity check on this machine's real hypervisor layer (Debian's QEMU,
//! SeaBIOS, iPXE: ~130 files, ~100 MB): cold (every file hashed) and on a warm digest cache
//! (one `stat` per file, nothing read).
//!
//! Run: `cargo bench -p hvguard-host --bench integrity`

#![allow(clippy::expect_used, clippy::unwrap_used)]

use hvguard_core::HostRoot;
use hvguard_host::integrity::{self, digest::DigestCache};
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
