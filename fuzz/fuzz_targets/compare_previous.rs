//! Feeds arbitrary bytes, as a previous selection-rationale document given to
//! `hvguard hypervisors compare --previous FILE`, to its state-line parser. The CLI refuses
//! non-UTF-8 before parsing, so only UTF-8 input reaches the parser here. A document without
//! a date line is an error, never a panic.
#![no_main]

use hvguard_compare::parse_previous;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(since) = parse_previous(Path::new("previous.md"), text) {
            let _ = since.date.to_string();
        }
    }
});
