//! Replays the `compare_previous` fuzz corpus (seeds and any crasher saved there) through the
//! same function as the fuzz target, as an ordinary test: errors are fine, panics are not.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use hvguard_compare::parse_previous;

fn corpus() -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/compare_previous");
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "corpus empty: {}", dir.display());
    files
}

#[test]
fn previous_documents_parse_or_error_without_panicking() {
    let mut accepted = Vec::new();
    for (path, data) in corpus() {
        let Ok(text) = std::str::from_utf8(&data) else {
            continue;
        };
        if let Ok(since) = parse_previous(&path, text) {
            accepted.push(path.file_name().unwrap().to_string_lossy().into_owned());
            assert_eq!(since.date.to_string(), "2026-11-29", "{}", path.display());
        }
    }
    // The real document and the well-formed seeds are read; every broken one is refused.
    assert_eq!(
        accepted,
        ["crlf-and-indent", "date-only", "rationale-kata-static-3.20"]
    );
}
