//! Feeds arbitrary text to the policy parser (accepted risks and the `[nfd]` section): it may
//! reject, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        match hvguard_advisory::policy::Policy::parse(Path::new("/fuzz/policy.toml"), text) {
            Ok(policy) => {
                // What the parser accepts is within the documented bounds.
                assert!((1..=hvguard_advisory::policy::NfdPolicy::MAX_EXPIRY_MINUTES)
                    .contains(&policy.nfd.expiry_minutes));
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
});
