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
