//! Issue 11, item 1, end to end: `hvguard scan --root R` never reads a file outside R and
//! `hvguard harden --root R --write` never creates one, while a thread swaps a directory
//! of R with a symlink escaping it (`renameat2(RENAME_EXCHANGE)` in a loop), for hundreds
//! of runs. Before hvguard resolved and opened through directory descriptors, the scan read
//! the outside file in about one run in ten and harden wrote outside R within a few dozen runs.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::*;
use rustix::fs::{renameat_with, RenameFlags, CWD};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

const RUNS: usize = 200;

/// A Kata configuration whose `kernel_params` (quoted back in the debug-console finding's
/// evidence) carries `marker`.
fn config(marker: &str, debug: bool) -> String {
    format!(
        "[hypervisor.qemu]\npath = \"/usr/bin/qemu-system-x86_64\"\n\
         kernel_params = \"agent.debug_console {marker}\"\nenable_debug = {debug}\n\
         [runtime]\nenable_debug = false\n"
    )
}

struct Swap {
    stop: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<u64>>,
}

impl Swap {
    fn start(a: PathBuf, b: PathBuf) -> Swap {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = thread::spawn(move || {
            let mut swaps = 0;
            while !flag.load(Ordering::Relaxed) {
                renameat_with(CWD, &a, CWD, &b, RenameFlags::EXCHANGE).unwrap();
                swaps += 1;
            }
            swaps
        });
        Swap {
            stop,
            handle: Some(handle),
        }
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.take().unwrap().join().unwrap()
    }
}

impl Drop for Swap {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The host root, the outside folder an absolute link in it points at, and the folder that
/// link stands for inside the root (hvguard re-roots absolute links: created so that both
/// states of the swap are readable and writable, which gives the race every chance).
struct Layout {
    _tmp: (tempfile::TempDir, tempfile::TempDir),
    root: PathBuf,
    outside: PathBuf,
    mirror: PathBuf,
}

fn layout() -> Layout {
    let tmp = tempfile::tempdir().unwrap();
    let outside_tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    fs::create_dir_all(root.join("etc/kata-containers/config.d")).unwrap();
    fs::create_dir_all(root.join("opt/kata")).unwrap();
    fs::write(root.join("opt/kata/VERSION"), "3.20.0\n").unwrap();
    let outside = outside_tmp.path().to_path_buf();
    let mirror = root.join(outside.strip_prefix("/").unwrap());
    fs::create_dir_all(&mirror).unwrap();
    Layout {
        _tmp: (tmp, outside_tmp),
        root,
        outside,
        mirror,
    }
}

#[test]
fn item1_scan_never_reads_outside_a_root_swapped_under_it() {
    let l = layout();
    let kata = l.root.join("etc/kata-containers");
    fs::write(
        kata.join("configuration.toml"),
        config("INSIDE-MARK", false),
    )
    .unwrap();
    fs::write(
        l.outside.join("configuration.toml"),
        config("SECRET-MARK", false),
    )
    .unwrap();
    fs::write(
        l.mirror.join("configuration.toml"),
        config("MIRROR-MARK", false),
    )
    .unwrap();
    symlink(&l.outside, l.root.join("etc/evil")).unwrap();
    let swap = Swap::start(kata, l.root.join("etc/evil"));
    let (mut escapes, mut inside) = (0, 0);
    for _ in 0..RUNS {
        let out = hvguard()
            .args(["scan", "--format", "json", "--root"])
            .arg(&l.root)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stdout.contains("SECRET-MARK") || stderr.contains("SECRET-MARK") {
            escapes += 1;
        }
        if stdout.contains("INSIDE-MARK") {
            inside += 1;
        }
    }
    let swaps = swap.finish();
    println!(
        "{RUNS} scans, {swaps} swaps: {escapes} read the outside file, {inside} the inside one"
    );
    assert_eq!(escapes, 0, "scan read a file outside --root");
    assert!(
        inside > 0,
        "no scan ever read the configuration: the race proves nothing"
    );
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path);
            } else {
                out.push((path.clone(), fs::read(&path).unwrap_or_default()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn item1_harden_write_never_creates_files_outside_a_root_swapped_under_it() {
    let l = layout();
    let kata = l.root.join("etc/kata-containers");
    symlink(&l.outside, kata.join("evil")).unwrap();
    let swap = Swap::start(kata.join("config.d"), kata.join("evil"));
    let mut seen = snapshot(&l.outside);
    let (mut escapes, mut written) = (0, 0);
    for run in 0..RUNS {
        // Alternate the configuration so that every run has a different drop-in to write.
        fs::write(kata.join("configuration.toml"), config("x", run % 2 == 0)).unwrap();
        let out = hvguard()
            .args(["harden", "--write", "--root"])
            .arg(&l.root)
            .output()
            .unwrap();
        if String::from_utf8_lossy(&out.stdout).contains("80-hvguard-hardening.toml") {
            written += 1;
        }
        let now = snapshot(&l.outside);
        if now != seen {
            escapes += 1;
        }
        seen = now;
    }
    let swaps = swap.finish();
    println!("{RUNS} harden runs, {swaps} swaps: {written} wrote, {escapes} changed files outside the root");
    assert_eq!(escapes, 0, "harden wrote outside --root: {seen:?}");
    assert!(
        written > 0,
        "no harden run ever wrote: the race proves nothing"
    );
}
