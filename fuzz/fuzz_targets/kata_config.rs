//! Feeds arbitrary text to the Kata configuration loader: it may reject, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = hvguard_kata::parse_config_str(Path::new("/fuzz/configuration.toml"), text)
        {
            // Rendering the error exercises the position code too.
            let _ = e.to_string();
        }
    }
});
