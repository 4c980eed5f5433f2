//! Replays the fuzz seed corpus (and any crasher saved there) through the loader.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hvguard_kata::parse_config_str;
use std::path::Path;

#[test]
fn every_corpus_file_parses_or_errors_without_panicking() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/kata_config");
    let mut seen = 0;
    let mut ok = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        seen += 1;
        // The fuzz target skips non-UTF-8 input the same way.
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        match parse_config_str(&path, text) {
            Ok(_) => ok += 1,
            Err(e) => assert!(
                e.to_string().starts_with(&path.display().to_string()),
                "{e}"
            ),
        }
    }
    assert!(seen >= 10, "corpus missing: {}", dir.display());
    // The real, valid seeds must keep loading.
    assert!(ok >= 3, "only {ok} corpus files parsed");
}

/// The files of one `containerd_config` input, split as the fuzz target splits them: up to
/// the first `#@ <path>` line is `etc/containerd/config.toml`, each such line starts a file.
fn containerd_files(data: &[u8]) -> Vec<(String, Vec<u8>)> {
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
                    && !name
                        .split('/')
                        .any(|c| c.is_empty() || c == "." || c == "..")
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

#[test]
fn containerd_corpus_loads_under_every_family_without_panicking() {
    use hvguard_core::{ContainerdSemantics, HostRoot};
    use hvguard_kata::containerd::{load_containerd, CONTAINERD_CONFIG};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/containerd_config");
    let mut seen = 0;
    let mut multi = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        seen += 1;
        let scratch = tempfile::tempdir().unwrap();
        for (name, bytes) in containerd_files(&data) {
            let path = scratch.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        let root = HostRoot::new(scratch.path()).unwrap();
        let scan = load_containerd(&root, Path::new(CONTAINERD_CONFIG));
        for e in &scan.errors {
            assert!(!e.to_string().is_empty());
        }
        let _ = scan.warnings();
        for family in ContainerdSemantics::ALL {
            let one = [family].into_iter().collect();
            let entries = scan.runtimes.iter().map(|r| r.entry.clone()).collect();
            let _ = hvguard_kata::narrow_runtimes(entries, &one);
            let _ = hvguard_kata::notes_for(&scan.notes, &one);
        }
        multi += usize::from(scan.files.len() >= 2);
    }
    assert!(seen >= 9, "corpus missing: {}", dir.display());
    // The multi-file seeds really reach their imports.
    assert!(multi >= 2, "only {multi} inputs loaded an import");
}

mod os_names_harness {
    #![allow(dead_code)]
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/harness/os_names.rs"
    ));
}

/// Replays the `os_names` fuzz corpus through the target's oracle (`fuzz/harness/os_names.rs`):
/// names that are not UTF-8 are escaped losslessly, and a drop-in so named is applied.
#[test]
fn item3_os_names_corpus_escapes_losslessly_and_applies_the_dropin() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/os_names");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 6, "corpus missing: {}", dir.display());
    for file in files {
        os_names_harness::check_os_name(&std::fs::read(&file).unwrap());
    }
}
