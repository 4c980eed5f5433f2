//! Feeds arbitrary text to containerd's configuration loader as a small host tree: the input
//! up to the first line `#@ <path>` is `etc/containerd/config.toml`, each such line starts
//! another file at `<path>` (relative to the scratch root; `..` and odd characters are
//! refused, at most 8 files), so imports, globs and merges across files are exercised under
//! every containerd release family. The loader reads through a `HostRoot` (there is no pure
//! parser); imports can only reach the scratch root, which is emptied for every input. It may
//! report errors and warnings, never panic.
#![no_main]

use hvguard_core::{ContainerdSemantics, HostRoot};
use hvguard_kata::containerd::{load_containerd, CONTAINERD_CONFIG};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        std::env::temp_dir().join(format!("hvguard-fuzz-containerd-{}", std::process::id()))
    })
}

/// The files of one input: (path under the root, contents). Mirrors
/// `crates/kata/tests/fuzz_corpus.rs`, which replays the corpus the same way.
fn files(data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![("etc/containerd/config.toml".to_string(), Vec::new())];
    for line in data.split_inclusive(|b| *b == b'\n') {
        let name = line
            .strip_prefix(b"#@ ")
            .map(|rest| String::from_utf8_lossy(rest).trim().to_string());
        match name {
            Some(name)
                if out.len() < 8
                    && !name.is_empty()
                    && name.len() <= 64
                    && !name.starts_with('/')
                    && !name.split('/').any(|c| c.is_empty() || c == "." || c == "..")
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-/[]*".contains(&b)) =>
            {
                out.push((name, Vec::new()));
            }
            _ => {
                if let Some(last) = out.last_mut() {
                    last.1.extend_from_slice(line);
                }
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let dir = scratch();
    let _ = std::fs::remove_dir_all(dir);
    for (name, bytes) in files(data) {
        let path = dir.join(&name);
        if let Some(parent) = path.parent() {
            if std::fs::create_dir_all(parent).is_err() {
                return;
            }
        }
        if std::fs::write(&path, bytes).is_err() {
            return;
        }
    }
    let Ok(root) = HostRoot::new(dir) else {
        return;
    };
    let scan = load_containerd(&root, Path::new(CONTAINERD_CONFIG));
    for e in &scan.errors {
        let _ = e.to_string();
    }
    let _ = scan.warnings();
    let entries: Vec<_> = scan.runtimes.iter().map(|r| r.entry.clone()).collect();
    for family in ContainerdSemantics::ALL {
        let one: BTreeSet<_> = [family].into_iter().collect();
        let _ = hvguard_kata::narrow_runtimes(entries.clone(), &one);
        let _ = hvguard_kata::notes_for(&scan.notes, &one);
        let _ = scan.starts(family);
    }
});
