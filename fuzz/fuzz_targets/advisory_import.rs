//! Feeds arbitrary bytes to feed detection and to every in-memory feed importer (OSV, CVE
//! JSON 5, NVD page, Debian tracker, KEV, EPSS CSV plain or gzip, hvguard snapshot), and to
//! the file-only NVD `cve` importer through a temporary file when the input is JSON-like.
//! They may reject, never panic.
#![no_main]

use hvguard_advisory::import::{
    default_debian_packages, detect_format_bytes, import_file_as, parse_cve5, parse_debian_tracker,
    parse_epss, parse_kev, parse_nvd_page, parse_osv, parse_snapshot, FeedFormat, ImportOptions,
};
use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn scratch() -> &'static Option<PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("hvguard-fuzz-import-{}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .ok()
            .map(|()| dir.join("input.json"))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = Path::new("/fuzz/feed.json");
    let _ = detect_format_bytes(data);
    let _ = parse_osv(path, data).map_err(|e| e.to_string());
    let _ = parse_cve5(path, data).map_err(|e| e.to_string());
    let _ = parse_nvd_page(path, data).map_err(|e| e.to_string());
    let _ = parse_snapshot(path, data).map_err(|e| e.to_string());
    let _ = parse_kev(path, data).map_err(|e| e.to_string());
    let _ = parse_debian_tracker(path, data, &default_debian_packages()).map_err(|e| e.to_string());
    let _ = parse_epss(path, data).map_err(|e| e.to_string());
    if data.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        if let Some(file) = scratch() {
            if std::fs::write(file, data).is_ok() {
                let _ = import_file_as(file, FeedFormat::NvdCve, &ImportOptions::default())
                    .map_err(|e| e.to_string());
            }
        }
    }
});
