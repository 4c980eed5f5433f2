//! collect + evaluate on fixture host roots, in-process (the whole-process figure against
//! virt-host-validate is a hyperfine run: see docs/benchmarks.md).
//!
//! Run: `cargo bench -p hvguard --bench scan`

// Test and bench helpers: a failed setup step should stop with its cause.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use hvguard_core::HostRoot;
use std::path::PathBuf;

fn main() {
    divan::main();
}

fn fixture(name: &str) -> HostRoot {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/hosts")
        .join(name);
    match HostRoot::new(&path) {
        Ok(root) => root,
        Err(e) => panic!("fixture root: {e}"),
    }
}

const FIXTURES: &[&str] = &["intel-problems", "kata-static", "debian12-nested-pvm"];

#[divan::bench(args = FIXTURES)]
fn collect(name: &str) -> hvguard_core::Snapshot {
    let root = fixture(name);
    hvguard_host::collect(&root, &hvguard_host::CollectOptions::default())
}

#[divan::bench(args = FIXTURES)]
fn evaluate(bencher: divan::Bencher, name: &str) {
    let snapshot = hvguard_host::collect(&fixture(name), &hvguard_host::CollectOptions::default());
    bencher.bench(|| hvguard_audit::evaluate(divan::black_box(&snapshot)));
}

#[divan::bench]
fn collect_and_evaluate_live_host() -> usize {
    let snapshot =
        hvguard_host::collect(&HostRoot::live(), &hvguard_host::CollectOptions::default());
    hvguard_audit::evaluate(&snapshot).findings.len()
}
