//! The digest cache file's parser (`hvguard_host::integrity::cache_file::parse`): arbitrary
//! text never panics, accepted entries are well-formed and round-trip through `render`, and a
//! file written for one root is never read for another. The oracle is in
//! `fuzz/harness/digest_cache.rs`, shared with the replay test.
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../harness/digest_cache.rs");

fuzz_target!(|data: &[u8]| {
    check_digest_cache(data);
});
