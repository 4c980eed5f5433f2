//! What `hvguard update` adds to a run: the running-VMM collection every live `scan` now
//! does (`/proc` walk, `exe` links, maps and fds of the VMMs found), and parsing apt's
//! answers. Run: `cargo bench -p hvguard-update --bench update`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use hvguard_core::HostRoot;

fn main() {
    divan::main();
}

/// The live host's processes, as `scan` collects them (no VMM running: the /proc walk).
#[divan::bench]
fn collect_vmm_processes() {
    let root = HostRoot::live();
    divan::black_box(hvguard_update::processes::collect(&root));
}

/// `apt-cache policy` of three packages, the real output saved in the fuzz corpus.
#[divan::bench]
fn parse_apt_cache_policy(bencher: divan::Bencher) {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/corpus/update_text/real-apt-cache-policy.txt"),
    )
    .unwrap();
    bencher.bench(|| hvguard_update::apt::parse::parse_policy(divan::black_box(&text)));
}
