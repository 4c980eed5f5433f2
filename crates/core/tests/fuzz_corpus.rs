//! Replays the `root_walk` fuzz corpus (seeds and any crasher saved there) through the same
//! oracle as the fuzz target (`fuzz/harness/root_walk.rs`), as an ordinary test: random trees
//! of directories and escaping symlinks never resolve outside the root, and the kernel's
//! `openat2` and hvguard's walk agree.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

mod harness {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/harness/root_walk.rs"
    ));
}

#[test]
fn item1_root_walk_corpus_never_resolves_outside_the_root() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/root_walk");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 6, "corpus missing: {}", dir.display());
    for file in files {
        println!("{}", file.display());
        harness::check_root_walk(&std::fs::read(&file).unwrap());
    }
}
