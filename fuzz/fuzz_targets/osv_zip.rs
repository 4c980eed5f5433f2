//! Feeds arbitrary bytes, written to a temporary file, to the OSV zip archive reader (it only
//! reads from a path). Hostile archives (`..` names, lying sizes, deflate bombs, broken
//! central directories) must be refused with an error, never panic or exhaust memory.
#![no_main]

use hvguard_advisory::import::{import_osv_zip_with, ZipLimits};
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

fn scratch() -> &'static Option<PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("hvguard-fuzz-zip-{}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .ok()
            .map(|()| dir.join("input.zip"))
    })
}

fuzz_target!(|data: &[u8]| {
    let Some(file) = scratch() else {
        return;
    };
    if std::fs::write(file, data).is_err() {
        return;
    }
    // The shipped defaults: what `db import` really uses.
    let _ = import_osv_zip_with(file, ZipLimits::default()).map_err(|e| e.to_string());
});
