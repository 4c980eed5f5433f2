// Shared by `fuzz/fuzz_targets/digest_cache.rs` and its replay test
// (`crates/host/tests/fuzz_corpus.rs`), which `include!` it.
//
// The input is the text of a digest cache file (`/var/cache/hvguard/digests-*`): outside
// input, since a damaged disk or anything that once ran as root may have written it. Checked,
// for the live root and for a root whose path needs escaping:
// - parsing never panics and keeps at most `MAX_ENTRIES` entries;
// - every entry's digest is lowercase hex of its algorithm's length;
// - what was accepted renders and parses back unchanged;
// - a text accepted for one root gives nothing for the other (a `--root` tree's file never
//   feeds the running host's collection, nor the reverse).
// Non-UTF-8 input is skipped: the loader reads the file as UTF-8 and ignores it otherwise.

use hvguard_host::integrity::cache_file::{parse, render, MAX_ENTRIES};
use std::path::Path;

/// The roots every input is parsed for.
pub const ROOTS: [&str; 2] = ["/", "/mnt/image one/%"];

/// The number of entries accepted for each of [`ROOTS`].
pub fn check_digest_cache(data: &[u8]) -> [usize; 2] {
    let mut accepted = [0; 2];
    let Ok(text) = std::str::from_utf8(data) else {
        return accepted;
    };
    for (i, root) in ROOTS.iter().map(Path::new).enumerate() {
        let entries = parse(text, root);
        assert!(entries.len() <= MAX_ENTRIES);
        for e in &entries {
            assert_eq!(e.digest.len(), e.algorithm.hex_len());
            assert!(e
                .digest
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
        }
        assert_eq!(parse(&render(root, &entries), root), entries);
        accepted[i] = entries.len();
    }
    assert!(accepted[0] == 0 || accepted[1] == 0, "one text, two roots");
    accepted
}
