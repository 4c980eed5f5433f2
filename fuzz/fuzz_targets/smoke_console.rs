//! Feeds an arbitrary console stream, cut into chunks, to the marker watcher of `hvguard
//! smoke`. The oracle is in `fuzz/harness/smoke_console.rs`, shared with the replay test.
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../harness/smoke_console.rs");

fuzz_target!(|data: &[u8]| {
    check_smoke_console(data);
});
