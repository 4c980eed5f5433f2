//! Matching speed: the shipped advisories against the hypervisors of the kata-static and
//! intel-problems fixture snapshots, and of this host when it has QEMU installed (Debian's
//! qemu-system-x86: five emulators with their QOM device tables, QEMU's tools, a changelog),
//! each collected once, outside the measurement. The budget is 1 ms per binary.
//!
//! Run: `cargo bench -p hvguard-advisory --bench matching`

use std::path::Path;

use hvguard_advisory::matching::match_snapshot;
use hvguard_advisory::policy::Policy;
use hvguard_advisory::{shipped_snapshot, Advisory};
use hvguard_core::{HostRoot, Snapshot};

fn main() {
    divan::main();
}

fn snapshot(name: &str) -> Option<Snapshot> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/hosts")
        .join(name);
    let root = HostRoot::new(dir).ok()?;
    Some(hvguard_host::collect(
        &root,
        &hvguard_host::CollectOptions::default(),
    ))
}

fn inputs(name: &str) -> (Snapshot, Vec<Advisory>) {
    let advisories = shipped_snapshot().unwrap_or_default();
    let snap = snapshot(name);
    match snap {
        Some(s) => (s, advisories),
        None => {
            eprintln!("fixture {name} missing");
            std::process::exit(2);
        }
    }
}

#[divan::bench(args = ["kata-static", "intel-problems"])]
fn match_fixture(bencher: divan::Bencher, name: &str) {
    let (snap, advisories) = inputs(name);
    let policy = Policy::default();
    let today = jiff::civil::date(2026, 11, 27);
    bencher.bench_local(|| {
        match_snapshot(
            divan::black_box(&snap),
            divan::black_box(&advisories),
            &policy,
            today,
        )
    });
}

/// This host, collected once: every QEMU binary with its device table, the package changelog.
/// Skipped (with a note) when the host has no QEMU.
#[divan::bench]
fn match_live_host(bencher: divan::Bencher) {
    if !Path::new("/usr/bin/qemu-system-x86_64").exists() {
        eprintln!("match_live_host: no /usr/bin/qemu-system-x86_64 here, skipped");
        return;
    }
    let Ok(root) = HostRoot::new("/") else {
        eprintln!("match_live_host: / is not readable, skipped");
        return;
    };
    let snap = hvguard_host::collect(&root, &hvguard_host::CollectOptions::default());
    eprintln!(
        "match_live_host: {} hypervisor binaries",
        snap.hypervisors.len()
    );
    let advisories = shipped_snapshot().unwrap_or_default();
    let policy = Policy::default();
    let today = jiff::civil::date(2026, 11, 27);
    bencher.bench_local(|| {
        match_snapshot(
            divan::black_box(&snap),
            divan::black_box(&advisories),
            &policy,
            today,
        )
    });
}
