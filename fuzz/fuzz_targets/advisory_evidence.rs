//! Feeds arbitrary bytes, as the data build's reviewed evidence file (`evidence.toml`), to
//! its parser and checks. Bad TOML or a fact without a source is an error naming the line,
//! never a panic.
#![no_main]

use hvguard_advisory::build::evidence::Evidence;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(evidence) = Evidence::parse(text) {
        let _ = evidence.facts_for("CVE-2024-3446").count();
    }
});
