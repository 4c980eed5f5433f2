// Shared by `fuzz/fuzz_targets/smoke_console.rs` and its replay test
// (`crates/smoke/tests/fuzz_corpus.rs`), which `include!` it.
//
// The first byte picks the chunk size (1-64), the second the marker length (1-16), the marker
// follows (printable ASCII kept, other bytes mapped to a-d: a marker is one line of text), then
// the stream. The watcher must find the marker exactly when the stream contains it, and keep
// its tail bounded. Returns whether the stream held the marker (`None`: input too short).

use hvguard_smoke::console::{ConsoleWatch, CONSOLE_TAIL_BYTES};

pub fn check_smoke_console(data: &[u8]) -> Option<bool> {
    if data.len() < 3 {
        return None;
    }
    let chunk = usize::from(data[0] % 64) + 1;
    let len = usize::from(data[1] % 16) + 1;
    if data.len() < 2 + len {
        return None;
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
    let expected = stream
        .windows(marker.len())
        .any(|w| w == marker.as_bytes());
    assert_eq!(found || watch.found(), expected, "marker {marker:?}");
    assert!(watch.tail_text().chars().count() <= CONSOLE_TAIL_BYTES);
    assert_eq!(watch.total_bytes(), stream.len() as u64);
    Some(expected)
}
