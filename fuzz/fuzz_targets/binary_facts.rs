//! The binary facts cache file's parser (`hvguard_host::binfacts::file::parse`): arbitrary
//! text never panics, accepted entries are well-formed (facts answer their questions, bounded
//! printable texts, catalogue type names) and round-trip through `render`, and a file written
//! for one root is never read for another. The oracle is in `fuzz/harness/binary_facts.rs`,
//! shared with the replay test.
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../harness/binary_facts.rs");

fuzz_target!(|data: &[u8]| {
    check_binary_facts(data);
});
