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
