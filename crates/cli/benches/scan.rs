//! The scan pipeline in-process: collect, evaluate (rules + advisory matching), and loading
//! the shipped advisory snapshot. The whole-process figure against virt-host-validate is a
//! hyperfine run: see docs/benchmarks.md.
//!
//! Run: `cargo bench -p hvguard --bench scan`

// Bench helpers: a fixture that cannot be opened should stop the run with its cause.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use hvguard_advisory::policy::Policy;
use hvguard_core::HostRoot;
use std::path::PathBuf;

fn main() {
    divan::main();
}

fn fixture(name: &str) -> HostRoot {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/hosts")
        .join(name);
    HostRoot::new(&path).expect("fixture root")
}

const FIXTURES: &[&str] = &["intel-problems", "kata-static", "debian12-nested-pvm"];

fn options() -> hvguard_host::CollectOptions {
    hvguard_host::CollectOptions::default()
}

#[divan::bench(args = FIXTURES)]
fn collect(name: &str) -> hvguard_core::Snapshot {
    hvguard_host::collect(&fixture(name), &options())
}

#[divan::bench(args = FIXTURES)]
fn evaluate_rules(bencher: divan::Bencher, name: &str) {
    let snapshot = hvguard_host::collect(&fixture(name), &options());
    bencher.bench(|| hvguard_audit::evaluate(divan::black_box(&snapshot)));
}

#[divan::bench(args = FIXTURES)]
fn match_advisories(bencher: divan::Bencher, name: &str) {
    let snapshot = hvguard_host::collect(&fixture(name), &options());
    let advisories = hvguard_advisory::shipped_snapshot().expect("shipped snapshot");
    let policy = Policy::default();
    let today = jiff::civil::date(2026, 11, 27);
    bencher.bench(|| {
        hvguard_advisory::matching::match_snapshot(
            divan::black_box(&snapshot),
            &advisories,
            &policy,
            today,
        )
    });
}

#[divan::bench]
fn load_shipped_advisories() -> usize {
    hvguard_advisory::shipped_snapshot()
        .expect("shipped snapshot")
        .len()
}

/// The live host as a node with a store sees it: the hypervisor layer's digests are cached
/// (the cold hashing is measured by `cargo bench -p hvguard-host --bench integrity`).
#[divan::bench]
fn collect_and_evaluate_live_host(bencher: divan::Bencher) {
    use hvguard_host::integrity::digest::DigestCache;
    let first = hvguard_host::CollectOptions {
        digest_cache: DigestCache::default().with_racy_window_ns(0).into(),
        ..options()
    };
    hvguard_host::collect(&HostRoot::live(), &first);
    let warm = first.digest_cache.into_inner().fresh().to_vec();
    bencher
        .with_inputs(|| hvguard_host::CollectOptions {
            digest_cache: DigestCache::new(warm.clone()).into(),
            ..options()
        })
        .bench_local_refs(|options| {
            let snapshot = hvguard_host::collect(&HostRoot::live(), options);
            hvguard_audit::evaluate(&snapshot).findings.len()
        });
}
