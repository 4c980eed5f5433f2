//! Feeds arbitrary bytes to `hvguard fleet report`'s reader of node documents
//! (`hvguard.report/v1`, `update-result/v1`, `update-status/v1`, anything else): it may
//! refuse a file with a reason, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = hvguard_fleet::parse_document(data);
});
