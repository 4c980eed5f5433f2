//! Broken, hostile and wrong inputs: every one is a clear error naming the file, never a
//! panic and never a silent partial import.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::fixture;
use hvguard_advisory::import::{
    self, import_cve5_file, import_debian_tracker, import_epss, import_kev, import_nvd_cve_file,
    import_nvd_page_file, import_osv_file, import_osv_zip, import_osv_zip_with, import_snapshot,
    ZipLimits,
};
use hvguard_advisory::ImportError;

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("{e}"));
    p
}

fn real(rel: &str) -> Vec<u8> {
    std::fs::read(fixture(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Asserts the error names the file and returns its message.
fn names_file<T: std::fmt::Debug>(result: Result<T, ImportError>, path: &Path) -> String {
    let err = match result {
        Ok(v) => panic!("{} imported: {v:?}", path.display()),
        Err(e) => e,
    };
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()),
        "{msg:?} does not name {}",
        path.display()
    );
    assert_eq!(err.path(), path);
    msg
}

#[test]
fn truncated_json_reports_line_and_column() {
    let d = tmp();
    let whole = real("nvd/CVE-2015-3456.json");
    let p = write(d.path(), "cut.json", &whole[..whole.len() / 2]);
    let err = import_nvd_cve_file(&p);
    assert!(matches!(err, Err(ImportError::Json { line, .. }) if line >= 1));
    names_file(import_nvd_cve_file(&p), &p);
    let osv = real("osv/osv-rustsec-RUSTSEC-2023-0056.json");
    let p = write(d.path(), "osv-cut.json", &osv[..osv.len() - 10]);
    let msg = names_file(import_osv_file(&p), &p);
    assert!(msg.contains("EOF"), "{msg}");
    let cve = real("cvelistV5/CVE-2024-3446.json");
    let p = write(d.path(), "cve-cut.json", &cve[..cve.len() - 3]);
    names_file(import_cve5_file(&p), &p);
    let kev = real("kev/cisa-kev-known_exploited_vulnerabilities.json");
    let p = write(d.path(), "kev-cut.json", &kev[..kev.len() - 100]);
    names_file(import_kev(&p), &p);
    let deb = real("debian/debian-tracker-json-sample-vunnel-fixture.json");
    let p = write(d.path(), "deb-cut.json", &deb[..deb.len() - 20]);
    names_file(
        import_debian_tracker(&p, &import::default_debian_packages()),
        &p,
    );
}

#[test]
fn wrong_types_are_errors_with_position() {
    let d = tmp();
    let osv = String::from_utf8(real("osv/osv-rustsec-RUSTSEC-2023-0056.json")).unwrap_or_default();
    let p = write(
        d.path(),
        "osv-types.json",
        osv.replace("\"aliases\": [", "\"aliases\": 7, \"x\": [")
            .as_bytes(),
    );
    let msg = names_file(import_osv_file(&p), &p);
    assert!(msg.contains("invalid type"), "{msg}");
    let p = write(
        d.path(),
        "osv-event.json",
        osv.replace("\"fixed\": \"0.12.2\"", "\"patched\": \"0.12.2\"")
            .as_bytes(),
    );
    names_file(import_osv_file(&p), &p);
    let p = write(d.path(), "snap.json", br#"[{"id": "CVE-1", "product": "qemu", "published": null, "affected": [{"introduced": 3}]}]"#);
    let msg = names_file(import_snapshot(&p), &p);
    assert!(
        matches!(import_snapshot(&p), Err(ImportError::Json { line: 1, .. })),
        "{msg}"
    );
    let p = write(
        d.path(),
        "page.json",
        br#"{"resultsPerPage": 1, "vulnerabilities": {"cve": 1}}"#,
    );
    names_file(import_nvd_page_file(&p), &p);
    let p = write(
        d.path(),
        "kev.json",
        br#"{"catalogVersion": "1", "count": 2, "vulnerabilities": [{"cveID": "CVE-1"}]}"#,
    );
    let msg = names_file(import_kev(&p), &p);
    assert!(msg.contains("count 2"), "{msg}");
}

#[test]
fn bad_versions_dates_and_products_in_a_snapshot() {
    let d = tmp();
    for (name, body, needle) in [
        (
            "ver.json",
            r#"[{"id":"X-1","product":"qemu","affected":[{"introduced":"0","fixed":"n/a"}]}]"#,
            "X-1",
        ),
        (
            "date.json",
            r#"[{"id":"X-2","product":"qemu","published":"yesterday"}]"#,
            "yesterday",
        ),
        (
            "prod.json",
            r#"[{"id":"X-3","product":"vmware"}]"#,
            "vmware",
        ),
        (
            "crate.json",
            r#"[{"id":"X-4","product":"rust-vmm"}]"#,
            "crate",
        ),
        (
            "cvss.json",
            r#"[{"id":"X-5","product":"qemu","cvss_v3_vector":"CVSS:3.1/AV:Z"}]"#,
            "CVSS",
        ),
        (
            "newer.json",
            r#"{"format":"hvguard.advisories/v2","advisories":[]}"#,
            "v2",
        ),
    ] {
        let p = write(d.path(), name, body.as_bytes());
        let msg = names_file(import_snapshot(&p), &p);
        assert!(msg.contains(needle), "{name}: {msg}");
    }
    let p = write(d.path(), "v1.json", br#"{"format":"hvguard.advisories/v1","advisories":[{"id":"X-6","product":"firecracker","affected":[{"introduced":"1.0","fixed":"1.4.1"}]}]}"#);
    let ok = import_snapshot(&p).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ok.len(), 1);
}

#[test]
fn junk_of_200_mb_fails_fast() {
    let d = tmp();
    let p = d.path().join("junk.json");
    let mut f = std::fs::File::create(&p).unwrap_or_else(|e| panic!("{e}"));
    f.write_all(b"\x7fELF this is not a feed")
        .unwrap_or_else(|e| panic!("{e}"));
    // Sparse: 200 MB on paper, nothing on disk, and still nothing a parser should read.
    f.set_len(200 << 20).unwrap_or_else(|e| panic!("{e}"));
    drop(f);
    let start = Instant::now();
    assert!(matches!(
        import_nvd_page_file(&p),
        Err(ImportError::NotJson { .. })
    ));
    names_file(import_nvd_cve_file(&p), &p);
    names_file(
        import_debian_tracker(&p, &import::default_debian_packages()),
        &p,
    );
    names_file(import_epss(&p), &p);
    names_file(import::import_path(&p), &p);
    assert!(
        matches!(import_osv_file(&p), Err(ImportError::TooLarge { .. })),
        "OSV records are capped at 16 MiB"
    );
    names_file(import_kev(&p), &p);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn unknown_formats_and_csv_errors() {
    let d = tmp();
    let p = write(d.path(), "other.json", br#"{"hello": "world"}"#);
    let msg = names_file(import::import_path(&p), &p);
    assert!(msg.contains("not a recognised advisory feed"), "{msg}");
    let p = write(d.path(), "empty.json", b"");
    names_file(import::import_path(&p), &p);
    let p = write(
        d.path(),
        "bad.csv",
        b"#model_version:v1\ncve,score\nCVE-1,0.5\n",
    );
    let msg = names_file(import_epss(&p), &p);
    assert!(msg.contains(":2:"), "{msg}");
    let p = write(
        d.path(),
        "range.csv",
        b"cve,epss,percentile\nCVE-2020-1,1.5,0.2\n",
    );
    assert!(matches!(
        import_epss(&p),
        Err(ImportError::Csv { line: 2, .. })
    ));
    let p = write(
        d.path(),
        "nan.csv",
        b"cve,epss,percentile\nCVE-2020-1,abc,0.2\n",
    );
    names_file(import_epss(&p), &p);
    let p = write(
        d.path(),
        "gzjunk.csv.gz",
        &[0x1f, 0x8b, 0, 1, 2, 3, 4, 5, 6, 7],
    );
    names_file(import_epss(&p), &p);
    let missing = d.path().join("missing.json");
    assert!(matches!(
        import::import_path(&missing),
        Err(ImportError::Io { .. })
    ));
}

fn zip_with(path: &Path, entries: &[(&str, &[u8])]) {
    let file = std::fs::File::create(path).unwrap_or_else(|e| panic!("{e}"));
    let mut w = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    for (name, bytes) in entries {
        w.start_file(*name, opts).unwrap_or_else(|e| panic!("{e}"));
        w.write_all(bytes).unwrap_or_else(|e| panic!("{e}"));
    }
    w.finish().unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn zip_bomb_is_refused() {
    let d = tmp();
    let p = d.path().join("bomb.zip");
    // 64 MiB of zeros deflates to ~64 KiB: far past the 16 MiB per-entry cap once inflated.
    let zeros = vec![0u8; 64 << 20];
    zip_with(&p, &[("RUSTSEC-0000-0000.json", &zeros)]);
    assert!(std::fs::metadata(&p).map(|m| m.len()).unwrap_or(u64::MAX) < 1 << 20);
    let msg = names_file(import_osv_zip(&p), &p);
    assert!(msg.contains("limit"), "{msg}");
    // The declared size can lie; the cap is enforced on the bytes actually inflated.
    let limits = ZipLimits {
        max_entry_bytes: 1 << 20,
        ..ZipLimits::default()
    };
    names_file(import_osv_zip_with(&p, limits), &p);
    // Many small entries adding up past the total cap.
    let osv = real("osv/osv-rustsec-RUSTSEC-2023-0056.json");
    let many = d.path().join("many.zip");
    zip_with(
        &many,
        &[("a.json", &osv), ("b.json", &osv), ("c.json", &osv)],
    );
    let total = ZipLimits {
        max_total_bytes: osv.len() as u64 * 2,
        ..ZipLimits::default()
    };
    let msg = names_file(import_osv_zip_with(&many, total), &many);
    assert!(msg.contains("total limit"), "{msg}");
    let count = ZipLimits {
        max_entries: 2,
        ..ZipLimits::default()
    };
    let msg = names_file(import_osv_zip_with(&many, count), &many);
    assert!(msg.contains("entries"), "{msg}");
}

#[test]
fn zip_entry_escaping_the_archive_is_refused() {
    let d = tmp();
    let osv = real("osv/osv-rustsec-RUSTSEC-2023-0056.json");
    for name in ["../evil.json", "/etc/evil.json", "dir/../../evil.json"] {
        let p = d.path().join("evil.zip");
        zip_with(&p, &[("good.json", &osv), (name, &osv)]);
        let msg = names_file(import_osv_zip(&p), &p);
        assert!(
            msg.contains("unsafe entry name") && msg.contains(name),
            "{msg}"
        );
    }
    assert!(!d.path().join("evil.json").exists());
    let p = write(d.path(), "notzip.zip", b"PK\x03\x04 truncated");
    names_file(import_osv_zip(&p), &p);
    let p = d.path().join("badjson.zip");
    zip_with(&p, &[("x.json", b"{\"id\": 1}")]);
    // A bad record inside the archive is named as `archive!entry`, with its JSON position.
    match import_osv_zip(&p) {
        Err(e @ ImportError::Json { .. }) => {
            assert_eq!(e.path(), Path::new(&format!("{}!x.json", p.display())));
            assert!(e.to_string().contains("invalid type"), "{e}");
        }
        other => panic!("expected a JSON error, got {other:?}"),
    }
}

#[test]
fn nvd_page_errors_keep_their_kind_and_big_pages_stream() {
    let d = tmp();
    let page =
        String::from_utf8(real("nvd-page/nvd-api2-sample-vunnel-fixture.json")).unwrap_or_default();
    // A record that converts badly reports the conversion error itself, not a JSON one.
    let bad_date = page.replace(
        "\"published\": \"2022-07-11T13:15:08.503\"",
        "\"published\": \"someday\"",
    );
    assert_ne!(bad_date, page);
    let p = write(d.path(), "bad-date.json", bad_date.as_bytes());
    let msg = names_file(import_nvd_page_file(&p), &p);
    assert!(
        matches!(import_nvd_page_file(&p), Err(ImportError::Format { .. })),
        "{msg}"
    );
    assert!(
        msg.contains("CVE-2022-1576") && msg.contains("someday"),
        "{msg}"
    );
    let p = write(
        d.path(),
        "no-list.json",
        br#"{"resultsPerPage": 0, "format": "NVD_CVE"}"#,
    );
    let msg = names_file(import_nvd_page_file(&p), &p);
    assert!(msg.contains("vulnerabilities"), "{msg}");
    // Past 64 MiB a page is read through a buffered reader instead of into memory.
    let mut big = page.into_bytes();
    big.extend(std::iter::repeat_n(b' ', 65 << 20));
    let p = write(d.path(), "big.json", &big);
    drop(big);
    let got = import_nvd_page_file(&p).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].id, "CVE-2022-1576");
}
