//! Feeds arbitrary text to the two TOML parsers of `hvguard-smoke`: the policy file's
//! `[smoke]` table (`SmokePolicy::parse`) and the Kata-CI-style benchmark baseline
//! (`Baseline::parse`). Either may report an error (with `path:line`), never panic.
#![no_main]

use hvguard_smoke::{Baseline, SmokePolicy};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/fuzz/policy.toml");
    if let Err(e) = SmokePolicy::parse(path, text) {
        assert!(e.to_string().starts_with("/fuzz/policy.toml:"), "{e}");
    }
    if let Err(e) = Baseline::parse(path, text) {
        assert!(e.to_string().starts_with("/fuzz/policy.toml:"), "{e}");
    }
});
