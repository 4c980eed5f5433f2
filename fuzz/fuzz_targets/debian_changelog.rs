//! Feeds arbitrary bytes, as a package's `changelog.Debian`, to the entry parser (fixed and
//! reopened CVEs, change items) and to the data build's readings of it (upstream releases,
//! 7.2.N stable merges), and every item text to the fix-subject matcher. Junk may yield no
//! entries, never a panic.
#![no_main]

use hvguard_advisory::build::debian::{stable_merges, upstream_releases};
use hvguard_advisory::subject;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let entries = hvguard_core::changelog::parse(&text);
    let _ = upstream_releases(&entries);
    let _ = stable_merges(&entries);
    let probe = subject::normalize("hw/nvme: fix buffer overrun");
    for entry in &entries {
        for item in &entry.items {
            let _ = hvguard_core::changelog::cve_ids(&item.text);
            let _ = subject::same(&probe, &item.text);
        }
    }
});
