//! Replays the `db_export_manifest` fuzz corpus through the same functions as the fuzz
//! target (the manifest reader and the export sniffing), as an ordinary test: refusals are
//! fine, panics are not. The real export's head must still read.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use hvguard_advisory::store::export::{is_export_file, manifest::read_manifest};

#[test]
fn db_export_manifest_corpus_reads_or_refuses_without_panicking() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/db_export_manifest");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "corpus empty: {}", dir.display());
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let manifest = read_manifest(&mut std::io::Cursor::new(&bytes), &name);
        let sniffed = is_export_file(path).unwrap();
        match name.as_str() {
            "real-export-head.hvdb" => {
                let m = manifest.unwrap();
                assert_eq!(m.schema, "hvguard.db-export/v1");
                assert!(sniffed);
            }
            "newer-format.txt" => {
                assert!(manifest.unwrap_err().to_string().contains("is newer"));
                assert!(sniffed);
            }
            "feed-kev-head.json" => assert!(!sniffed),
            _ => {}
        }
    }
}
