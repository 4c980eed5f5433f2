//! Feeds arbitrary text to dpkg's digest-list parser (`var/lib/dpkg/info/<pkg>.md5sums`): it
//! may reject a line, never panic, and never yield a path that climbs out of the root.
#![no_main]

use hvguard_host::integrity::md5sums::parse_md5sums;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(entries) = parse_md5sums(text) {
        for e in entries {
            assert!(e.path.is_absolute());
            assert!(!e.path.components().any(|c| c.as_os_str() == ".."));
            assert_eq!(e.digest.len(), 32);
        }
    }
});
