//! Replays the `fleet_document` fuzz corpus (seeds and any crasher saved there) through the
//! same function as the fuzz target, as an ordinary test: a file may be refused with a
//! reason, never panic. The real seeds must still be read.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

#[test]
fn fleet_document_corpus_reads_or_refuses_without_panicking() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/fleet_document");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "corpus empty: {}", dir.display());
    let mut real = 0;
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let result = hvguard_fleet::parse_document(&bytes);
        let name = path.file_name().unwrap().to_string_lossy();
        if name.starts_with("real-") {
            assert!(result.is_ok(), "{name}: {result:?}");
            real += 1;
        }
        if name.starts_with("truncated-") {
            assert!(
                matches!(result, Err(hvguard_fleet::DocumentError::Truncated { .. })),
                "{name}: {result:?}"
            );
        }
    }
    assert_eq!(real, 3);
}
