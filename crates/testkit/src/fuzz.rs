//! The fuzz corpora, read back by the ordinary tests that replay them.

use std::path::{Path, PathBuf};

/// The files of the fuzz corpus of `target` (`fuzz/corpus/<target>` in the workspace), sorted
/// by path, each with its bytes. Panics, naming the folder, when it cannot be read or holds
/// fewer than `at_least` files: a replay test that finds no corpus has tested nothing.
#[track_caller]
pub fn fuzz_corpus(target: &str, at_least: usize) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<(PathBuf, Vec<u8>)> = entries
        .map(|entry| {
            let path = entry
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path();
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path, bytes)
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= at_least,
        "corpus too small ({} files, fewer than {at_least}): {}",
        files.len(),
        dir.display()
    );
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_real_corpus_sorted() {
        let files = fuzz_corpus("kata_config", 1);
        assert!(files.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(files.iter().all(|(p, _)| p.is_file()));
    }

    #[test]
    #[should_panic(expected = "fewer than")]
    fn a_corpus_smaller_than_asked_fails() {
        fuzz_corpus("kata_config", usize::MAX);
    }

    #[test]
    #[should_panic(expected = "no-such-target")]
    fn a_missing_corpus_fails_naming_it() {
        fuzz_corpus("no-such-target", 0);
    }
}
