//! Feeds arbitrary bytes to the reader of store exports (`db update --source URL` from a
//! mirror): the manifest line and the check that tells an export from a feed file. They may
//! refuse, never panic.
#![no_main]

use hvguard_advisory::store::export::{is_export_file, manifest::read_manifest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = read_manifest(&mut std::io::Cursor::new(data), "fuzz");
    // The sniffing reads a path: a scratch file per input.
    let dir = std::env::temp_dir().join(format!("hvguard-fuzz-export-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join("input");
    if std::fs::write(&file, data).is_ok() {
        let _ = is_export_file(&file);
    }
});
