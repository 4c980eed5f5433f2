//! Replays the `update_text` fuzz corpus (seeds and any crasher saved there) through the same
//! parsers as the fuzz target, as an ordinary test: errors are fine, panics are not; the real
//! seeds must parse to something.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use hvguard_update::{apt, locks, processes};

#[test]
fn update_text_corpus_parses_or_errors_without_panicking() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/update_text");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 8, "corpus too small: {}", dir.display());
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        let policy = apt::parse::parse_policy(text);
        let madison = apt::parse::parse_madison(text);
        let stanza = apt::parse::parse_first_stanza(text);
        let plan = apt::parse_simulation(text);
        let _ = locks::holders_in(text, 0xfe00, 1234);
        let libs = processes::stale_libraries(text, |_| Some(1));
        let args: Vec<String> = text.split('\0').map(str::to_owned).collect();
        let sandbox = processes::sandbox_of(&args, text);
        let name = path.file_name().unwrap().to_string_lossy();
        match name.as_ref() {
            "real-apt-cache-policy.txt" => {
                let p = policy.unwrap();
                assert!(p["qemu-system-x86"].candidate.is_some(), "{p:?}");
            }
            "real-apt-cache-madison.txt" => assert!(madison.len() >= 2, "{madison:?}"),
            "real-apt-cache-show.txt" => assert_eq!(stanza["Package"], "qemu-system-x86"),
            "real-apt-get-install-s.txt" => assert!(!plan.is_empty()),
            "real-proc-maps.txt" => assert!(libs.iter().all(|l| l.is_absolute())),
            "handmade-cgroup-pod.txt" => assert!(sandbox.is_some()),
            _ => {}
        }
    }
}
