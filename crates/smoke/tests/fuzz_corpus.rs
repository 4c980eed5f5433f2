//! Replays the `smoke_text` and `smoke_console` fuzz corpora (seeds and any crasher saved
//! there) through the same functions and checks as the fuzz targets, as ordinary tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hvguard_smoke::{Baseline, SmokePolicy};
use hvguard_testkit::fuzz_corpus;
use std::path::{Path, PathBuf};

/// Every file of the corpus of `target`; fewer than four (the real seeds) fails the test.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    fuzz_corpus(target, 4)
}

#[test]
fn smoke_text_corpus_parses_or_errors_with_a_line() {
    let path = Path::new("/fuzz/policy.toml");
    let mut policies = 0;
    let mut baselines = 0;
    for (file, bytes) in corpus("smoke_text") {
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        match SmokePolicy::parse(path, text) {
            Ok(p) => policies += usize::from(p.overrides != Default::default()),
            Err(e) => assert!(
                e.to_string().starts_with("/fuzz/policy.toml:"),
                "{}: {e}",
                file.display()
            ),
        }
        match Baseline::parse(path, text) {
            Ok(_) => baselines += 1,
            Err(e) => assert!(
                e.to_string().starts_with("/fuzz/policy.toml:"),
                "{}: {e}",
                file.display()
            ),
        }
    }
    assert!(policies >= 1, "the real policy seed must keep parsing");
    assert!(
        baselines >= 1,
        "the hvguard baseline seed must keep parsing"
    );
}

#[test]
fn smoke_text_rejects_kata_s_own_metric_names_with_the_line() {
    // Kata's checkmetrics file is the format's origin; its metric names are not hvguard's.
    let (file, bytes) = corpus("smoke_text")
        .into_iter()
        .find(|(p, _)| p.to_string_lossy().contains("real-kata-checkmetrics"))
        .unwrap();
    let e = Baseline::parse(&file, std::str::from_utf8(&bytes).unwrap()).unwrap_err();
    assert!(
        e.to_string().contains("unknown metric \"boot-times\""),
        "{e}"
    );
}

mod smoke_console_harness {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/harness/smoke_console.rs"
    ));
}

#[test]
fn smoke_console_corpus_finds_exactly_the_markers_present() {
    let mut hits = 0;
    for (_, data) in corpus("smoke_console") {
        if let Some(expected) = smoke_console_harness::check_smoke_console(&data) {
            hits += usize::from(expected);
        }
    }
    assert!(hits >= 2, "the marker seeds must keep matching");
}
