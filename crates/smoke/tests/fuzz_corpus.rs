//! Replays the `smoke_text` and `smoke_console` fuzz corpora (seeds and any crasher saved
//! there) through the same functions and checks as the fuzz targets, as ordinary tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hvguard_smoke::console::{ConsoleWatch, CONSOLE_TAIL_BYTES};
use hvguard_smoke::{Baseline, SmokePolicy};
use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    files.sort();
    assert!(files.len() >= 4, "corpus too small: {}", dir.display());
    files
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

#[test]
fn smoke_console_corpus_finds_exactly_the_markers_present() {
    let mut hits = 0;
    for (_, data) in corpus("smoke_console") {
        if data.len() < 3 {
            continue;
        }
        let chunk = usize::from(data[0] % 64) + 1;
        let len = usize::from(data[1] % 16) + 1;
        if data.len() < 2 + len {
            continue;
        }
        let marker: String = data[2..2 + len]
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() {
                    char::from(b)
                } else {
                    char::from(b'a' + b % 4)
                }
            })
            .collect();
        let stream = &data[2 + len..];
        let mut watch = ConsoleWatch::new(&marker);
        let mut found = false;
        for piece in stream.chunks(chunk) {
            found = watch.feed(piece);
        }
        let expected = stream.windows(marker.len()).any(|w| w == marker.as_bytes());
        assert_eq!(found || watch.found(), expected, "marker {marker:?}");
        assert!(watch.tail_text().chars().count() <= CONSOLE_TAIL_BYTES);
        hits += usize::from(expected);
    }
    assert!(hits >= 2, "the marker seeds must keep matching");
}
