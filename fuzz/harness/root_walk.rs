// Shared by `fuzz/fuzz_targets/root_walk.rs` and its replay test
// (`crates/core/tests/fuzz_corpus.rs`), which `include!` it: one oracle, two runners.
//
// The input is a small program that builds a tree of directories, files and symlinks inside a
// fresh root R, next to an OUTSIDE folder holding a secret. Symlinks aim everywhere an
// attacker would: absolute and relative paths inside R, `..` chains, the real absolute path
// of OUTSIDE and of the secret, themselves. Then every path of up to three components over
// the tree's names is resolved through `HostRoot`, with the kernel's `openat2` and with
// hvguard's own walk. Checked, for each path:
// - no read ever returns the secret;
// - both resolutions agree (same content, or both fail);
// - `canonical()` is a clean host path (absolute, no `.` or `..`), and what it names, looked
//   up from outside, really lies inside R.

use hvguard_core::{HostRoot, Resolution};
use std::path::{Component, Path, PathBuf};

const SECRET: &str = "SECRET-OUTSIDE-THE-ROOT";
const NAMES: [&str; 4] = ["a", "b", "c", ".."];
const MAX_OPS: usize = 48;

/// A scratch folder per input: `R/` (the root) and `OUTSIDE/` beside it.
struct Scratch {
    base: PathBuf,
}

impl Scratch {
    fn new() -> Option<Scratch> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let base = std::env::temp_dir().join(format!(
            "hvguard-fuzz-walk-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(base.join("R")).ok()?;
        std::fs::create_dir_all(base.join("OUTSIDE")).ok()?;
        std::fs::write(base.join("OUTSIDE/secret"), SECRET).ok()?;
        std::fs::write(base.join("OUTSIDE/a"), SECRET).ok()?;
        Some(Scratch { base })
    }
    fn root(&self) -> PathBuf {
        self.base.join("R")
    }
    fn outside(&self) -> PathBuf {
        self.base.join("OUTSIDE")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// One to three components from the input (names only: `a`, `b`, `c`).
fn rel_path(bytes: &mut std::slice::Iter<'_, u8>, depth: u8) -> PathBuf {
    let mut p = PathBuf::new();
    for _ in 0..=depth % 3 {
        let b = bytes.next().copied().unwrap_or(0);
        p.push(NAMES[usize::from(b % 3)]);
    }
    p
}

fn link_target(bytes: &mut std::slice::Iter<'_, u8>, s: &Scratch, at: &Path) -> PathBuf {
    let t = bytes.next().copied().unwrap_or(0);
    let depth = bytes.next().copied().unwrap_or(0);
    match t % 9 {
        0 => Path::new("/").join(rel_path(bytes, depth)),
        1 => {
            let mut p = PathBuf::new();
            for _ in 0..=depth % 4 {
                p.push("..");
            }
            p.join(rel_path(bytes, depth / 4))
        }
        2 => {
            let mut p = PathBuf::new();
            for _ in 0..=depth % 8 {
                p.push("..");
            }
            p.join("OUTSIDE")
        }
        3 => s.outside(),
        4 => s.outside().join("secret"),
        5 => PathBuf::from(".."),
        6 => PathBuf::from("/"),
        7 => at.file_name().map(PathBuf::from).unwrap_or_default(),
        _ => rel_path(bytes, depth),
    }
}

/// Builds the tree the input describes under `s.root()`.
fn build(data: &[u8], s: &Scratch) {
    let root = s.root();
    let mut bytes = data.iter();
    let mut ops = 0;
    while let Some(&op) = bytes.next() {
        ops += 1;
        if ops > MAX_OPS {
            break;
        }
        let at = rel_path(&mut bytes, op >> 2);
        let real = root.join(&at);
        if let Some(parent) = real.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        match op % 3 {
            0 => {
                let _ = std::fs::create_dir(&real);
            }
            1 => {
                let _ = std::fs::write(&real, format!("file {}", at.display()));
            }
            _ => {
                let target = link_target(&mut bytes, s, &at);
                let _ = std::os::unix::fs::symlink(target, &real);
            }
        }
    }
}

/// Every path of one to three components over `NAMES`.
fn queries() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for a in NAMES {
        out.push(Path::new("/").join(a));
        for b in NAMES {
            out.push(Path::new("/").join(a).join(b));
            for c in NAMES {
                out.push(Path::new("/").join(a).join(b).join(c));
            }
        }
    }
    out
}

/// Runs one input; panics when confinement or agreement breaks.
pub fn check_root_walk(data: &[u8]) {
    let Some(s) = Scratch::new() else {
        return;
    };
    build(data, &s);
    let Ok(kernel) = HostRoot::with_resolution(s.root(), Resolution::Kernel) else {
        return;
    };
    let Ok(walk) = HostRoot::with_resolution(s.root(), Resolution::Walk) else {
        return;
    };
    let real_root = std::fs::canonicalize(s.root()).unwrap_or_else(|_| s.root());
    for q in queries() {
        let by_kernel = kernel.read_text(&q, 1 << 10);
        let by_walk = walk.read_text(&q, 1 << 10);
        for (how, got) in [("kernel", &by_kernel), ("walk", &by_walk)] {
            if let Ok(text) = got {
                assert_ne!(text, SECRET, "{how}: {} read the outside secret", q.display());
            }
        }
        match (&by_kernel, &by_walk) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{}: resolutions disagree", q.display()),
            (Ok(_), Err(e)) | (Err(e), Ok(_)) => {
                panic!("{}: one resolution read it, the other failed: {e}", q.display())
            }
            (Err(_), Err(_)) => {}
        }
        let names_k = kernel.read_dir_os(&q).ok();
        let names_w = walk.read_dir_os(&q).ok();
        assert_eq!(names_k, names_w, "{}: listings disagree", q.display());
        if let Some(names) = names_k {
            assert!(
                !names.iter().any(|n| n == "secret"),
                "{}: listed the outside folder",
                q.display()
            );
        }
        if let Ok(canonical) = walk.canonical(&q) {
            assert!(canonical.is_absolute(), "{}", canonical.display());
            assert!(
                canonical
                    .components()
                    .all(|c| matches!(c, Component::RootDir | Component::Normal(_))),
                "{} -> {}: not clean",
                q.display(),
                canonical.display()
            );
            let rel = canonical.strip_prefix("/").unwrap_or(&canonical);
            // Only the last component may be a link (canonical follows it, but the last
            // name of a dangling chain is not resolvable from outside anyway).
            if let Ok(really) = std::fs::canonicalize(s.root().join(rel)) {
                assert!(
                    really.starts_with(&real_root),
                    "{} -> {} is really {}",
                    q.display(),
                    canonical.display(),
                    really.display()
                );
            }
        }
    }
}
