//! Loading and merging the largest real Kata config with two drop-ins (target: < 1 ms).
//!
//! `cargo bench -p hvguard-kata`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hvguard_core::HostRoot;
use hvguard_kata::{load_with_dropins, parse_config_str};
use std::path::{Path, PathBuf};

const LARGEST: &str = "main/runtime-rs/configuration-qemu-nvidia-gpu-runtime-rs.toml";

fn main() {
    divan::main();
}

fn largest() -> (PathBuf, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/kata/rendered")
        .join(LARGEST);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    (path, text)
}

/// A host root holding the largest config and two drop-ins beside it.
fn host() -> Option<(tempfile::TempDir, HostRoot)> {
    let (_, text) = largest();
    let dir = tempfile::tempdir().ok()?;
    let kc = dir.path().join("etc/kata-containers");
    std::fs::create_dir_all(kc.join("config.d")).ok()?;
    std::fs::write(kc.join("configuration.toml"), text).ok()?;
    std::fs::write(
        kc.join("config.d/10-debug.toml"),
        "[hypervisor.qemu]\nenable_debug = true\n[runtime]\nenable_debug = true\n",
    )
    .ok()?;
    std::fs::write(
        kc.join("config.d/80-hardening.toml"),
        "[hypervisor.qemu]\nseccomp_sandbox = \"on,obsolete=deny,spawn=deny,resourcecontrol=deny\"\n\
         enable_annotations = []\n[runtime]\ndisable_guest_seccomp = false\n",
    )
    .ok()?;
    let root = HostRoot::new(dir.path()).ok()?;
    Some((dir, root))
}

#[divan::bench]
fn parse_largest(bencher: divan::Bencher) {
    let (path, text) = largest();
    bencher.bench(|| parse_config_str(&path, divan::black_box(&text)).map(|c| c.values.len()));
}

#[divan::bench]
fn load_and_merge_largest_with_two_dropins(bencher: divan::Bencher) {
    let Some((_dir, root)) = host() else {
        return;
    };
    let main = Path::new("/etc/kata-containers/configuration.toml");
    bencher.bench(|| {
        load_with_dropins(&root, divan::black_box(main), None).map(|l| l.config.values.len())
    });
}
