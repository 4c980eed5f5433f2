//! Replays the `policy` fuzz corpus (seeds and any crasher saved there) through the same
//! function as the fuzz target, as an ordinary test: errors are fine, panics are not.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hvguard_advisory::policy::{NfdPolicy, Policy};
use std::path::Path;

#[test]
fn policy_corpus_parses_or_errors_without_panicking() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/policy");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut parsed = Vec::new();
    for path in &files {
        let Ok(text) = std::str::from_utf8(&std::fs::read(path).unwrap()).map(str::to_owned) else {
            continue;
        };
        match Policy::parse(path, &text) {
            Ok(policy) => {
                assert!((1..=NfdPolicy::MAX_EXPIRY_MINUTES).contains(&policy.nfd.expiry_minutes));
                parsed.push(path.file_name().unwrap().to_string_lossy().into_owned());
            }
            Err(e) => assert!(e.to_string().contains("policy"), "{e}"),
        }
    }
    // The real seeds parse; every junk seed is refused.
    assert!(
        parsed.contains(&"real-conffile.toml".to_string()),
        "{parsed:?}"
    );
    assert!(
        parsed.contains(&"real-conffile-uncommented.toml".to_string()),
        "{parsed:?}"
    );
    assert!(parsed.iter().all(|n| n.starts_with("real-")), "{parsed:?}");
}
