//! Issue 11, item 1 (writes): `harden --write` never creates or changes a file outside the
//! root, even while a directory it writes into is swapped with an escaping symlink
//! (`renameat2(RENAME_EXCHANGE)` in a loop). Both modes are raced: the drop-in (its
//! `config.d/` swapped) and the hardened copy with backups (the configuration folder itself
//! swapped). The old code resolved a path, then wrote by name, and created files outside the
//! root within a few dozen runs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harden_common;

use harden_common::*;
use hvguard_core::{ConfigValue, HardeningPlan, HostRoot, Resolution};
use hvguard_kata::harden::{write_dropin, write_hardened_copy};
use rustix::fs::{renameat_with, RenameFlags, CWD};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

const RUNS: i64 = 200;

/// Swaps `a` and `b` until stopped; returns how many swaps happened.
fn swapper(a: PathBuf, b: PathBuf, stop: Arc<AtomicBool>) -> thread::JoinHandle<u64> {
    thread::spawn(move || {
        let mut swaps = 0;
        while !stop.load(Ordering::Relaxed) {
            renameat_with(CWD, &a, CWD, &b, RenameFlags::EXCHANGE).unwrap();
            swaps += 1;
        }
        swaps
    })
}

/// A plan whose value changes every run, so that every run really writes (and backs up).
fn plan(main: &Path, run: i64) -> HardeningPlan {
    let mut plan = qemu_plan(main);
    plan.settings.push(set(
        "hypervisor.qemu.default_maxmemory",
        ConfigValue::Integer(8192 + run),
        "kata.resource-limits-unbounded",
        "a sandbox may take the whole host",
    ));
    plan
}

/// The folder an absolute link to `outside` stands for inside the root (where hvguard, which
/// re-roots absolute links, really goes): created so that both states of the swap can be
/// written, which gives the race many chances.
fn mirror_inside(host: &Host, outside: &Path) -> PathBuf {
    let inside = host.dir.path().join(outside.strip_prefix("/").unwrap());
    fs::create_dir_all(&inside).unwrap();
    inside
}

/// Runs `write` `RUNS` times while `swap.0` and `swap.1` trade places; returns the runs after
/// which something outside the root had been created or changed, and how many writes
/// succeeded.
fn race(
    host: &Host,
    root: &HostRoot,
    swap: (PathBuf, PathBuf),
    outside: &Path,
    write: impl Fn(&HostRoot, &HardeningPlan) -> bool,
) -> (Vec<(i64, Vec<PathBuf>)>, usize) {
    let mut seen = tree(outside);
    let stop = Arc::new(AtomicBool::new(false));
    let handle = swapper(swap.0, swap.1, Arc::clone(&stop));
    let mut written = 0;
    let mut escapes = Vec::new();
    for run in 0..RUNS {
        if write(root, &plan(&host.main, run)) {
            written += 1;
        }
        let now = tree(outside);
        let changed: Vec<PathBuf> = now
            .iter()
            .filter(|(k, v)| seen.get(*k) != Some(*v))
            .map(|(k, _)| k.clone())
            .collect();
        if !changed.is_empty() {
            escapes.push((run, changed));
        }
        seen = now;
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = handle.join().unwrap();
    println!(
        "{:?}: {RUNS} runs, {swaps} swaps: {written} writes succeeded, {} runs created or changed files outside the root",
        root.resolution(),
        escapes.len()
    );
    (escapes, written)
}

/// Both ways of resolving inside the root: the kernel's `openat2` and hvguard's own walk.
fn roots(host: &Host) -> [HostRoot; 2] {
    [Resolution::Kernel, Resolution::Walk]
        .map(|r| HostRoot::with_resolution(host.dir.path(), r).unwrap())
}

#[test]
fn item1_dropin_writes_never_escape_through_a_swapped_config_d() {
    let host = Host::new(
        "3.20.0-go-configuration-qemu.toml",
        "configuration-qemu.toml",
    );
    let outside = tempfile::tempdir().unwrap();
    fs::create_dir(host.kata_dir().join("config.d")).unwrap();
    mirror_inside(&host, outside.path());
    symlink(outside.path(), host.kata_dir().join("evil")).unwrap();
    for root in roots(&host) {
        let swap = (
            host.kata_dir().join("config.d"),
            host.kata_dir().join("evil"),
        );
        let (escaped, written) = race(&host, &root, swap, outside.path(), |root, plan| {
            write_dropin(root, plan, now()).is_ok()
        });
        assert!(escaped.is_empty(), "written outside the root: {escaped:?}");
        assert!(
            written > 0,
            "no write ever got through: the race proves nothing"
        );
    }
}

#[test]
fn item1_hardened_copy_writes_never_escape_through_a_swapped_config_folder() {
    let host = Host::new(
        "2.0.0-go-configuration-qemu.toml",
        "configuration-qemu.toml",
    );
    let outside = tempfile::tempdir().unwrap();
    // The same configuration outside, so that a read through the link succeeds and an
    // escaping write would really happen.
    fs::copy(
        fixture("2.0.0-go-configuration-qemu.toml"),
        outside.path().join("configuration-qemu.toml"),
    )
    .unwrap();
    fs::copy(
        fixture("2.0.0-go-configuration-qemu.toml"),
        mirror_inside(&host, outside.path()).join("configuration-qemu.toml"),
    )
    .unwrap();
    let kata = host.kata_dir();
    let evil = kata.with_file_name("evil");
    symlink(outside.path(), &evil).unwrap();
    for root in roots(&host) {
        let swap = (kata.clone(), evil.clone());
        let (escaped, written) = race(&host, &root, swap, outside.path(), |root, plan| {
            write_hardened_copy(root, plan, now()).is_ok()
        });
        assert!(escaped.is_empty(), "written outside the root: {escaped:?}");
        assert!(
            written > 0,
            "no write ever got through: the race proves nothing"
        );
    }
}
