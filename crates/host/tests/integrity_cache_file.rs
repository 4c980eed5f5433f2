//! The digest cache file across collections, as a plain `scan` without a store uses it: the
//! second collection of an unchanged layer hashes nothing, a modified file changes its identity
//! and is hashed (and found) again, and an untrusted file is not used.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hvguard_core::{HostRoot, IntegrityFacts, Package, PackageManager, Probe};
use hvguard_host::integrity::{self, cache_file::CacheFile, digest::DigestCache};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

const FILES: [(&str, &[u8]); 3] = [
    ("usr/share/seabios/bios.bin", b"SeaBIOS image bytes"),
    ("usr/share/seabios/vgabios-stdvga.bin", b"VGA BIOS bytes"),
    ("usr/share/seabios/bios-256k.bin", b"a larger SeaBIOS image"),
];

fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A root holding SeaBIOS (a package of the hypervisor layer) as dpkg installed it.
fn seabios_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let info = dir.path().join("var/lib/dpkg/info");
    fs::create_dir_all(&info).unwrap();
    let mut md5sums = String::new();
    for (rel, bytes) in FILES {
        let path = dir.path().join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, bytes).unwrap();
        md5sums.push_str(&format!("{}  {rel}\n", md5_hex(bytes)));
    }
    fs::write(info.join("seabios.md5sums"), md5sums).unwrap();
    dir
}

fn packages() -> Probe<Vec<Package>> {
    Probe::found(vec![Package {
        manager: PackageManager::Dpkg,
        name: "seabios".into(),
        version: "1.16.2-1".into(),
        source_name: "seabios".into(),
        source_version: "1.16.2-1".into(),
        arch: "all".into(),
    }])
}

/// One collection as `pipeline::collect` makes it: load the file, check, save. Files written
/// by the test are seconds old, so the racy window is off (the digest module tests it).
fn collect(root: &HostRoot, file: &CacheFile) -> (IntegrityFacts, (u64, u64), bool) {
    let mut cache = DigestCache::new(file.load()).with_racy_window_ns(0);
    let facts = integrity::collect(root, &packages(), &[], &mut cache);
    let written = file.save(&cache).unwrap();
    (facts, cache.stats(), written)
}

fn modified(facts: &IntegrityFacts) -> Vec<String> {
    let packages = facts.packages.value().unwrap();
    assert_eq!(packages[0].checked, 3, "{packages:?}");
    packages[0]
        .modified
        .iter()
        .map(|m| m.path.display().to_string())
        .collect()
}

#[test]
fn a_second_collection_hashes_nothing_and_a_modified_file_is_still_found() {
    let tree = seabios_root();
    let root = HostRoot::new(tree.path()).unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let file = CacheFile::for_root(cache_dir.path(), &root);

    let (facts, stats, written) = collect(&root, &file);
    assert_eq!(stats, (0, 3), "first collection: every file hashed");
    assert!(written);
    assert!(modified(&facts).is_empty());
    let first = fs::metadata(file.path()).unwrap();

    let (facts, stats, written) = collect(&root, &file);
    assert_eq!(stats, (3, 0), "second collection: nothing hashed");
    assert!(!written, "nothing new, nothing written");
    assert!(modified(&facts).is_empty());
    assert_eq!(fs::metadata(file.path()).unwrap().ino(), first.ino());

    // Same size, other bytes: the identity changes (mtime, ctime), so the file is hashed again.
    let target = tree.path().join(FILES[0].0);
    fs::write(&target, b"SeaBIOS image byteZ").unwrap();
    let (facts, stats, written) = collect(&root, &file);
    assert_eq!(stats, (2, 1));
    assert!(written, "the new identity is saved");
    assert_eq!(modified(&facts), ["/usr/share/seabios/bios.bin"]);

    // The modification stays reported from the cache (its digest is the modified one).
    let (facts, stats, written) = collect(&root, &file);
    assert_eq!(stats, (3, 0));
    assert!(!written);
    assert_eq!(modified(&facts), ["/usr/share/seabios/bios.bin"]);

    // A file others may write is not trusted: everything is hashed, the file replaced.
    fs::set_permissions(file.path(), fs::Permissions::from_mode(0o606)).unwrap();
    let (_, stats, written) = collect(&root, &file);
    assert_eq!(stats, (0, 3));
    assert!(written);
    let mode = fs::metadata(file.path()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(collect(&root, &file).1, (3, 0));
}

#[test]
fn a_poisoned_entry_is_only_read_from_a_trusted_file() {
    let tree = seabios_root();
    let root = HostRoot::new(tree.path()).unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let file = CacheFile::for_root(cache_dir.path(), &root);
    collect(&root, &file);
    // What the file vouches for is what the check compares: a wrong digest in a trusted file
    // is believed (which is why only the caller may write it)...
    let ino = fs::metadata(tree.path().join(FILES[0].0)).unwrap().ino();
    let text = fs::read_to_string(file.path()).unwrap();
    let poisoned: String = text
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            if fields.len() == 7 && fields[1] == ino.to_string() {
                format!("{} {}\n", fields[..6].join(" "), "0".repeat(32))
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    assert_ne!(poisoned, text);
    fs::write(file.path(), &poisoned).unwrap();
    let (facts, stats, _) = collect(&root, &file);
    assert_eq!(stats, (3, 0));
    assert_eq!(modified(&facts), ["/usr/share/seabios/bios.bin"]);
    // ...and the same file reached through a symbolic link, or writable by the group, is not.
    let link_dir = tempfile::tempdir().unwrap();
    let linked = CacheFile::for_root(link_dir.path(), &root);
    std::os::unix::fs::symlink(file.path(), linked.path()).unwrap();
    assert!(linked.load().is_empty());
    fs::write(file.path(), &poisoned).unwrap();
    fs::set_permissions(file.path(), fs::Permissions::from_mode(0o660)).unwrap();
    let (facts, stats, _) = collect(&root, &file);
    assert_eq!(stats, (0, 3));
    assert!(modified(&facts).is_empty());
}

#[test]
fn scans_of_two_roots_keep_separate_files() {
    let (a, b) = (seabios_root(), seabios_root());
    let (ra, rb) = (
        HostRoot::new(a.path()).unwrap(),
        HostRoot::new(b.path()).unwrap(),
    );
    let cache_dir = tempfile::tempdir().unwrap();
    let (fa, fb) = (
        CacheFile::for_root(cache_dir.path(), &ra),
        CacheFile::for_root(cache_dir.path(), &rb),
    );
    assert_eq!(collect(&ra, &fa).1, (0, 3));
    assert_eq!(collect(&rb, &fb).1, (0, 3));
    assert_eq!(collect(&ra, &fa).1, (3, 0));
    assert_eq!(collect(&rb, &fb).1, (3, 0));
    // One root's file, put where another root's belongs, is not read for it.
    fs::copy(fa.path(), fb.path()).unwrap();
    assert!(fb.load().is_empty());
    assert!(Path::new(fa.path()).exists());
}
