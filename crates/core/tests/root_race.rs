//! Issue 11, item 1: confinement holds against a root that changes while hvguard reads it.
//!
//! A thread swaps a directory inside the root with a symlink that points outside it
//! (`renameat2(RENAME_EXCHANGE)`, atomically, in a loop) while the reader reads a file
//! through the directory's name, thousands of times. Any read of the outside secret is an
//! escape; the count must be zero. The resolve-then-open-by-name code this replaced escaped
//! in about a third of the reads.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hvguard_core::{HostRoot, Resolution};
use rustix::fs::{renameat_with, RenameFlags, CWD};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

const SECRET: &str = "SECRET-OUTSIDE-THE-ROOT";
const READS: usize = 10_000;

struct Race {
    _dirs: (tempfile::TempDir, tempfile::TempDir),
    root_dir: PathBuf,
}

/// `R/a/dir/f` ("inside") and `R/a/link -> target`, with `outside/f` holding the secret.
fn setup(link_target: impl Fn(&Path) -> PathBuf) -> Race {
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("f"), SECRET).unwrap();
    fs::write(outside.path().join("only-outside"), "").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root_dir = dir.path().join("root");
    fs::create_dir_all(root_dir.join("a/dir")).unwrap();
    fs::write(root_dir.join("a/dir/f"), "inside").unwrap();
    symlink(link_target(outside.path()), root_dir.join("a/link")).unwrap();
    Race {
        _dirs: (dir, outside),
        root_dir,
    }
}

/// Runs `read` `READS` times while `a/dir` and `a/link` swap places; returns
/// (escapes, reads that saw the inside file).
fn race(
    race: &Race,
    root: &HostRoot,
    read: impl Fn(&HostRoot) -> Option<String>,
) -> (usize, usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let stop = Arc::clone(&stop);
        let a = race.root_dir.join("a/dir");
        let b = race.root_dir.join("a/link");
        thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                renameat_with(CWD, &a, CWD, &b, RenameFlags::EXCHANGE).unwrap();
                swaps += 1;
            }
            swaps
        })
    };
    let (mut escapes, mut inside) = (0, 0);
    for _ in 0..READS {
        match read(root).as_deref() {
            Some(SECRET) => escapes += 1,
            Some("inside") => inside += 1,
            _ => {}
        }
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    println!("{READS} reads, {swaps} swaps: {escapes} escapes, {inside} inside");
    (escapes, inside)
}

fn check(race_setup: &Race, root: &HostRoot) {
    let (escapes, inside) = race(race_setup, root, |r| r.read_small("/a/dir/f").ok());
    assert_eq!(escapes, 0, "read_small escaped the root");
    assert!(
        inside > 0,
        "the race never let a read through: the test proves nothing"
    );
    let (escapes, _) = race(race_setup, root, |r| {
        r.read_text("/a/dir/f", 64)
            .ok()
            .map(|t| t.trim().to_string())
    });
    assert_eq!(escapes, 0, "read_text escaped the root");
    // Metadata and listings: the outside file is longer, the outside folder has a name the
    // inside one lacks.
    let (escapes, _) = race(race_setup, root, |r| {
        r.metadata("/a/dir/f").ok().map(|m| {
            if m.len() == SECRET.len() as u64 {
                SECRET.to_string()
            } else {
                "inside".to_string()
            }
        })
    });
    assert_eq!(escapes, 0, "metadata escaped the root");
    let (escapes, _) = race(race_setup, root, |r| {
        r.read_dir_os("/a/dir").ok().map(|names| {
            if names.iter().any(|n| n == "only-outside") {
                SECRET.to_string()
            } else {
                "inside".to_string()
            }
        })
    });
    assert_eq!(escapes, 0, "read_dir_os escaped the root");
}

fn both(link_target: impl Fn(&Path) -> PathBuf + Copy) {
    for resolution in [Resolution::Kernel, Resolution::Walk] {
        let setup = setup(link_target);
        let root = HostRoot::with_resolution(&setup.root_dir, resolution).unwrap();
        println!("{resolution:?}:");
        check(&setup, &root);
    }
}

#[test]
fn item1_reads_never_escape_through_an_absolute_symlink_swapped_in() {
    both(|outside| outside.to_path_buf());
}

#[test]
fn item1_reads_never_escape_through_a_relative_symlink_swapped_in() {
    both(|outside| {
        Path::new("../../../../../../../../../../..").join(outside.strip_prefix("/").unwrap())
    });
}
