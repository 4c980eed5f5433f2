//! The binary facts cache file across collections: a collection that takes the facts of
//! unchanged binaries from the file makes the same Snapshot as one that reads every binary
//! (on a fixture root holding Debian's real QEMU and containerd binaries, and on this host),
//! and a binary whose identity changed is read again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hvguard_core::{HostRoot, Snapshot};
use hvguard_host::binfacts::{file::BinaryFactsFile, BinaryFactsCache};
use hvguard_host::CollectOptions;
use std::path::{Path, PathBuf};

const QEMU: &str = "/usr/bin/qemu-system-x86_64";
const MICROVM: &str = "/usr/bin/qemu-system-x86_64-microvm";
const CONTAINERD: &str = "/usr/bin/containerd";

fn require_debian_binaries() {
    hvguard_testkit::require!(
        [QEMU, MICROVM, CONTAINERD]
            .iter()
            .all(|p| Path::new(p).is_file()),
        "Debian's qemu-system-x86 and containerd binaries",
        "apt-get install qemu-system-x86 containerd; .ci/run installs them"
    );
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_tree(&entry.path(), &dest);
        } else if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

/// The `debian12-nested-pvm` fixture host with copies of Debian's real QEMU and containerd
/// binaries (what is read out of them is what the cache keeps).
fn fixture_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/hosts/debian12-nested-pvm");
    copy_tree(&fixture, dir.path());
    for binary in [QEMU, MICROVM, CONTAINERD] {
        let dest = dir.path().join(binary.trim_start_matches('/'));
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(binary, &dest).unwrap();
    }
    dir
}

/// One collection with the facts file in `cache_dir` (or none), as `pipeline::collect` makes
/// it: load, collect, save. Returns the snapshot as JSON without its timestamp, and the
/// cache's (hits, misses).
fn collect(root: &HostRoot, cache_dir: Option<&Path>, racy_ns: i64) -> (String, (u64, u64)) {
    let file = cache_dir.map(|d| BinaryFactsFile::for_root(d, root));
    let cache = BinaryFactsCache::new(file.as_ref().map(|f| f.load()).unwrap_or_default())
        .with_racy_window_ns(racy_ns);
    let options = CollectOptions {
        binary_facts: cache.into(),
        ..Default::default()
    };
    let snapshot = hvguard_host::collect(root, &options);
    let cache = options.binary_facts.into_inner();
    if let Some(file) = file {
        file.save(&cache).unwrap();
    }
    (serialised(snapshot), cache.stats())
}

fn serialised(mut snapshot: Snapshot) -> String {
    snapshot.collected_at = String::new();
    serde_json::to_string_pretty(&snapshot).unwrap()
}

fn qemu_of(json: &str, path: &str) -> serde_json::Value {
    let snapshot: serde_json::Value = serde_json::from_str(json).unwrap();
    snapshot["hypervisors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["path"] == path)
        .unwrap_or_else(|| panic!("{path} not inventoried"))
        .clone()
}

#[test]
fn a_fixture_root_collects_the_same_snapshot_with_and_without_the_cache() {
    require_debian_binaries();
    let tree = fixture_root();
    let root = HostRoot::new(tree.path()).unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let (uncached, _) = collect(&root, None, 0);
    let (cold, (hits, misses)) = collect(&root, Some(cache_dir.path()), 0);
    assert_eq!((hits, misses > 0), (0, true));
    let (warm, (hits, misses)) = collect(&root, Some(cache_dir.path()), 0);
    assert_eq!(misses, 0, "every fact from the file");
    // Two QEMU builds (banner and type names each) and containerd.
    assert_eq!(hits, 5);
    assert_eq!(uncached, cold);
    assert_eq!(uncached, warm);
    // The facts are really there (not all unknown in both).
    let qemu = qemu_of(&warm, QEMU);
    assert_eq!(qemu["version_source"], "binary-string");
    assert_eq!(qemu["devices"]["anchors_found"], true);
    assert!(warm.contains("\"1.6.20+unknown\""), "containerd's version");
}

#[test]
fn the_live_host_collects_the_same_snapshot_with_and_without_the_cache() {
    require_debian_binaries();
    let root = HostRoot::live();
    let cache_dir = tempfile::tempdir().unwrap();
    let (uncached, _) = collect(&root, None, hvguard_host::integrity::digest::RACY_WINDOW_NS);
    let racy = hvguard_host::integrity::digest::RACY_WINDOW_NS;
    let (cold, _) = collect(&root, Some(cache_dir.path()), racy);
    let (warm, (hits, _)) = collect(&root, Some(cache_dir.path()), racy);
    assert!(hits >= 5, "{hits} facts from the file");
    assert_eq!(uncached, cold);
    assert_eq!(uncached, warm);
    assert!(cache_dir.path().join("binfacts-live").is_file());
}

/// Replaces `from` by `to` (same length) everywhere in the file at `path`, in place: same
/// inode and size, new timestamps.
fn patch(path: &Path, from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let mut bytes = std::fs::read(path).unwrap();
    let mut at = 0;
    let mut patched = 0;
    while let Some(i) = bytes[at..].windows(from.len()).position(|w| w == from) {
        bytes[at + i..at + i + to.len()].copy_from_slice(to);
        at += i + to.len();
        patched += 1;
    }
    assert!(patched > 0, "{} holds no {:?}", path.display(), from);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_modified_binary_is_read_again() {
    require_debian_binaries();
    let tree = fixture_root();
    let root = HostRoot::new(tree.path()).unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let (before, _) = collect(&root, Some(cache_dir.path()), 0);
    let old = qemu_of(&before, QEMU);
    assert!(old["devices"]["present"]
        .as_array()
        .unwrap()
        .contains(&"pvrdma".into()));
    let version = old["version"].as_str().unwrap().to_string();
    // A rebuilt binary: another version in the banner, and no pvrdma device.
    let copy: PathBuf = tree.path().join(QEMU.trim_start_matches('/'));
    let banner = format!("QEMU emulator version {version}");
    let other = banner.replacen("version ", "version 9", 1);
    patch(&copy, banner.as_bytes(), &other.as_bytes()[..banner.len()]);
    patch(&copy, b"\0pvrdma\0", b"\0pvrdmX\0");
    let (after, (_, misses)) = collect(&root, Some(cache_dir.path()), 0);
    assert_eq!(misses, 2, "the modified binary's banner and type names");
    let new = qemu_of(&after, QEMU);
    assert_ne!(new["version"], old["version"]);
    assert!(new["version"].as_str().unwrap().starts_with('9'), "{new:#}");
    assert!(new["devices"]["absent"]
        .as_array()
        .unwrap()
        .contains(&"pvrdma".into()));
    // The unchanged microvm build still comes from the file, and matches a fresh reading.
    let (uncached, _) = collect(&root, None, 0);
    assert_eq!(after, uncached);
    assert_eq!(
        qemu_of(&after, MICROVM),
        qemu_of(&before, MICROVM),
        "unchanged binary"
    );
}
