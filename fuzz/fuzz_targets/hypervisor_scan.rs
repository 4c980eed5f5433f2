//! Feeds arbitrary bytes, as if they were a hypervisor binary, to the ELF section lookup,
//! the version-banner scan and the QOM type-name inventory. Truncated or lying ELF headers
//! may make them return `None` or an error, never panic, hang or allocate what the header
//! claims.
#![no_main]

use hvguard_host::hypervisors::{elf, kind::BANNERS, qom, scan};
use libfuzzer_sys::fuzz_target;
use std::io::Cursor;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let len = data.len() as u64;
    let mut file = Cursor::new(data);
    let _ = elf::find_section(&mut file, len, ".rodata");
    let _ = elf::find_section(&mut file, len, "");
    let _ = scan::find_in_file(&mut file, len, BANNERS);
    // A small chunk size exercises the carry-over between windows on short inputs.
    let chunk = usize::from(data.first().copied().unwrap_or(1) % 64) + 1;
    let _ = scan::find_in_stream(data, BANNERS, chunk);
    let _ = qom::inventory(&mut file, len, Path::new("/fuzz/qemu"));
    let _ = qom::names_in(data);
});
