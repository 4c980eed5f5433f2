// Shared by `fuzz/fuzz_targets/binary_facts.rs` and its replay test
// (`crates/host/tests/fuzz_corpus.rs`), which `include!` it.
//
// The input is the text of a binary facts cache file (`/var/cache/hvguard/binfacts-*`):
// outside input, since a damaged disk or anything that once ran as root may have written it.
// Checked, for the live root and for a root whose path needs escaping:
// - parsing never panics and keeps at most `MAX_ENTRIES` entries;
// - every fact answers its question, every text value is printable ASCII of at most
//   `MAX_TEXT` bytes, every type name is one the catalogue looks for;
// - what was accepted renders and parses back unchanged, and loads into a cache;
// - a text accepted for one root gives nothing for the other.
// Non-UTF-8 input is skipped: the loader reads the file as UTF-8 and ignores it otherwise.

use hvguard_host::binfacts::file::{parse, render, MAX_ENTRIES, MAX_TEXT};
use hvguard_host::binfacts::{BinaryFactsCache, Fact};
use hvguard_host::hypervisors::qom::{TypeNames, TYPE_NAMES};
use std::path::Path;

/// The roots every input is parsed for.
pub const ROOTS: [&str; 2] = ["/", "/mnt/image one/%"];

fn well_formed_text(text: &str) {
    assert!(text.len() <= MAX_TEXT);
    assert!(text.bytes().all(|b| (0x20..=0x7e).contains(&b)), "{text:?}");
}

/// The number of entries accepted for each of [`ROOTS`].
pub fn check_binary_facts(data: &[u8]) -> [usize; 2] {
    let mut accepted = [0; 2];
    let Ok(text) = std::str::from_utf8(data) else {
        return accepted;
    };
    for (i, root) in ROOTS.iter().map(Path::new).enumerate() {
        let entries = parse(text, root);
        assert!(entries.len() <= MAX_ENTRIES);
        for e in &entries {
            assert!(e.fact.answers(e.query));
            match &e.fact {
                Fact::Version(Some(m)) => {
                    well_formed_text(&m.version);
                    well_formed_text(&m.evidence);
                }
                Fact::ContainerdVersion(Some(v)) => {
                    well_formed_text(&v.version);
                    well_formed_text(&v.evidence);
                }
                Fact::TypeNames(TypeNames::Found(names)) => {
                    assert!(names.iter().all(|n| TYPE_NAMES.contains(n)));
                }
                _ => {}
            }
        }
        assert_eq!(parse(&render(root, &entries), root), entries);
        let cache = BinaryFactsCache::new(entries.clone());
        assert!(cache.to_keep(MAX_ENTRIES).len() <= entries.len());
        accepted[i] = entries.len();
    }
    assert!(accepted[0] == 0 || accepted[1] == 0, "one text, two roots");
    accepted
}
