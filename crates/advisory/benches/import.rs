//! Import throughput versus plain `serde_json` parsing of the same bytes.
//!
//! The feed is synthetic but real in shape: the real NVD `cve` objects from
//! `tests/fixtures/advisories/nvd/` repeated with new ids into one API 2.0 page of
//! 20,000 records. Run: `cargo bench -p hvguard-advisory --bench import`.

use std::path::Path;

use divan::counter::BytesCount;
use divan::Bencher;

fn main() {
    divan::main();
}

const RECORDS: usize = 20_000;

fn synthetic_nvd_page() -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/advisories/nvd");
    let mut originals: Vec<serde_json::Value> = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    names.sort();
    for name in names {
        if let Ok(bytes) = std::fs::read(&name) {
            if let Ok(v) = serde_json::from_slice(&bytes) {
                originals.push(v);
            }
        }
    }
    assert!(
        !originals.is_empty(),
        "no NVD fixtures in {}",
        dir.display()
    );
    let mut items = Vec::with_capacity(RECORDS);
    for i in 0..RECORDS {
        let mut cve = originals[i % originals.len()].clone();
        cve["id"] = serde_json::Value::String(format!("CVE-2099-{:05}", i));
        items.push(serde_json::json!({ "cve": cve }));
    }
    let page = serde_json::json!({
        "resultsPerPage": RECORDS, "startIndex": 0, "totalResults": RECORDS,
        "format": "NVD_CVE", "version": "2.0", "timestamp": "2026-11-27T00:00:00.000",
        "vulnerabilities": items,
    });
    serde_json::to_vec(&page).unwrap_or_default()
}

#[divan::bench(sample_count = 10)]
fn nvd_import(bencher: Bencher) {
    let bytes = synthetic_nvd_page();
    let path = Path::new("synthetic-nvd-page.json");
    bencher.counter(BytesCount::of_slice(&bytes)).bench(|| {
        hvguard_advisory::import::parse_nvd_page(path, divan::black_box(&bytes)).map(|v| v.len())
    });
}

#[divan::bench(sample_count = 10)]
fn serde_json_value(bencher: Bencher) {
    let bytes = synthetic_nvd_page();
    bencher.counter(BytesCount::of_slice(&bytes)).bench(|| {
        serde_json::from_slice::<serde_json::Value>(divan::black_box(&bytes)).map(|v| v.is_object())
    });
}
