//! Finding the real things the boot tests need: Debian's QEMU and the test guest that
//! `scripts/build-test-guest` builds from Debian packages (cached under `$HVGUARD_TEST_GUEST`,
//! default `${XDG_CACHE_HOME:-$HOME/.cache}/hvguard/test-guest`).
//!
//! Without them a test is skipped *visibly* (a SKIPPED line on stderr); with `CI=true` a
//! missing prerequisite fails the test instead, so CI can never pass without booting.
//! Shared by the smoke and CLI tests (`#[path]`-included).

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Debian's QEMU, as `qemu-system-x86` installs it.
pub const QEMU: &str = "/usr/bin/qemu-system-x86_64";
/// Debian's QEMU module folder (`QEMU_MODULE_DIR` for a relocated copy).
pub const QEMU_MODULES: &str = "/usr/lib/x86_64-linux-gnu/qemu";

/// The test guest's files.
#[derive(Debug, Clone)]
pub struct Guest {
    pub dir: PathBuf,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Fails under CI, else prints a visible SKIPPED line; returns `None` either way.
pub fn missing<T>(what: &str) -> Option<T> {
    if in_ci() {
        panic!("CI=true and a prerequisite is missing: {what}");
    }
    eprintln!("\n*** SKIPPED: {what}; this test did not run ***\n");
    None
}

/// Where the guest is cached.
pub fn guest_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HVGUARD_TEST_GUEST") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/root/.cache"));
    cache.join("hvguard/test-guest")
}

/// The test guest, or `None` (skipped / failed under CI) when it was not built.
pub fn guest() -> Option<Guest> {
    let dir = guest_dir();
    let g = Guest {
        kernel: dir.join("vmlinuz"),
        initrd: dir.join("initramfs.cpio.gz"),
        dir: dir.clone(),
    };
    if g.kernel.is_file() && g.initrd.is_file() {
        Some(g)
    } else {
        missing(&format!(
            "test guest not built in {} (run scripts/build-test-guest)",
            dir.display()
        ))
    }
}

/// Debian's QEMU; waits up to two minutes when it is briefly missing (another test may be
/// reinstalling the package).
pub fn qemu() -> Option<PathBuf> {
    let path = Path::new(QEMU);
    let until = Instant::now() + Duration::from_secs(120);
    while !path.exists() && Instant::now() < until {
        std::thread::sleep(Duration::from_secs(2));
    }
    if path.exists() {
        Some(path.to_path_buf())
    } else {
        missing("Debian's qemu-system-x86 is not installed (.ci/run installs it)")
    }
}

/// Both, or `None`.
pub fn qemu_and_guest() -> Option<(PathBuf, Guest)> {
    Some((qemu()?, guest()?))
}

/// True while `pid` is a live process (not a zombie).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .unwrap_or("");
            state != "Z" && state != "X"
        }
        Err(_) => false,
    }
}

/// Every live process whose command line mentions `needle` (to prove no VMM was left).
pub fn processes_mentioning(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            if String::from_utf8_lossy(&cmdline).contains(needle) && alive(pid) {
                out.push(pid);
            }
        }
    }
    out
}
