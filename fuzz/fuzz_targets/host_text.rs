//! Feeds arbitrary text to every host text parser (`/proc/cpuinfo`, `/proc/cmdline`,
//! `/proc/swaps`, `/sys/kernel/security/lsm`, `/proc/version`, `os-release`, dpkg's `status`,
//! `rpm -qa` output, `/etc/machine-id`). Each input goes through all of them, so a seed for one file is mutated
//! into input for the others too: they may reject, never panic.
#![no_main]

use hvguard_host::{cpu, identity, kernel, packages};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = cpu::parse_cpuinfo(text).map_err(|e| e.to_string());
    let _ = kernel::parse_cmdline(text);
    let _ = kernel::parse_swaps(text).map_err(|e| e.to_string());
    let _ = kernel::parse_lsm(text).map_err(|e| e.to_string());
    let _ = kernel::parse_proc_version(text).map_err(|e| e.to_string());
    let _ = kernel::parse_os_release(text).map_err(|e| e.to_string());
    let _ = packages::dpkg::parse_status(text).map_err(|e| format!("{e:?}"));
    let _ = packages::rpm::parse_rpm_qa(text).map_err(|e| e.to_string());
    if let Ok(id) = identity::parse_machine_id(text) {
        // What the state table keys by: always 32 lowercase hex characters.
        assert_eq!(id.as_str().len(), 32);
        assert!(id.as_str().bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
    }
});
