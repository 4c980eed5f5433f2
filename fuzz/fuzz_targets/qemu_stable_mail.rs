//! Feeds arbitrary bytes, as a QEMU stable announcement or patch round-up mail, to the data
//! build's mail parser (headers, date, CVE ids, fix-commit subjects). A mail without the
//! headers it needs is an error, never a panic.
#![no_main]

use hvguard_advisory::build::announce::parse_announcement;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mail) = parse_announcement("8.2.3", "qemu-stable/8.2/8.2.3.txt", data) {
        let _ = mail.cite();
        let _ = mail.lists("hw/nvme: Use pcie_sriov_num_vfs()");
    }
});
