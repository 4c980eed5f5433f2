//! Replays the `advisory_import`, `osv_zip`, `containerd_config`, `debian_changelog`,
//! `qemu_stable_mail` and `advisory_evidence` fuzz corpora (seeds and any crasher saved there) through the same functions as the fuzz targets, as ordinary
//! tests: errors are fine, panics are not. The containerd corpus is replayed here because
//! this crate already has `hvguard-kata` as a dev-dependency.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hvguard_advisory::build::announce::parse_announcement;
use hvguard_advisory::build::debian::{stable_merges, upstream_releases};
use hvguard_advisory::build::evidence::Evidence;
use hvguard_advisory::import::{
    default_debian_packages, detect_format_bytes, import_file_as, import_osv_zip_with, parse_cve5,
    parse_debian_tracker, parse_epss, parse_kev, parse_nvd_page, parse_osv, parse_snapshot,
    FeedFormat, ImportOptions, ZipLimits,
};
use hvguard_advisory::subject;
use hvguard_core::HostRoot;
use hvguard_kata::containerd::{load_containerd, CONTAINERD_CONFIG};
use hvguard_testkit::fuzz_corpus;
use std::path::{Path, PathBuf};

/// Every file of the corpus of `target`; a missing or empty corpus fails the test.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    fuzz_corpus(target, 1)
}

#[test]
fn advisory_import_corpus_imports_or_errors_without_panicking() {
    let files = corpus("advisory_import");
    let packages = default_debian_packages();
    let scratch = tempfile::tempdir().unwrap();
    let nvd_file = scratch.path().join("input.json");
    let mut detected = 0;
    let mut imported = 0;
    for (path, data) in &files {
        let data = data.as_slice();
        let format = detect_format_bytes(data);
        detected += usize::from(format.is_some());
        let results = [
            parse_osv(path, data).map(drop),
            parse_cve5(path, data).map(drop),
            parse_nvd_page(path, data).map(drop),
            parse_snapshot(path, data).map(drop),
            parse_kev(path, data).map(drop),
            parse_debian_tracker(path, data, &packages).map(drop),
            parse_epss(path, data).map(drop),
        ];
        let mut ok = results.iter().any(Result::is_ok);
        for e in results.iter().filter_map(|r| r.as_ref().err()) {
            let _ = e.to_string();
        }
        if data.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            std::fs::write(&nvd_file, data).unwrap();
            match import_file_as(&nvd_file, FeedFormat::NvdCve, &ImportOptions::default()) {
                Ok(_) => ok = true,
                Err(e) => {
                    let _ = e.to_string();
                }
            }
        }
        imported += usize::from(ok);
    }
    // The real seeds (OSV, CVE 5, NVD, NVD page, KEV, Debian, EPSS, snapshot) keep importing.
    assert!(detected >= 8, "only {detected} files detected");
    assert!(imported >= 8, "only {imported} files imported");
}

#[test]
fn osv_zip_corpus_is_read_or_refused_without_panicking() {
    let files = corpus("osv_zip");
    let scratch = tempfile::tempdir().unwrap();
    let mut read = 0;
    for (path, data) in &files {
        let file = scratch.path().join("input.zip");
        std::fs::write(&file, data).unwrap();
        let name = path.file_name().unwrap().to_string_lossy();
        match import_osv_zip_with(&file, ZipLimits::default()) {
            Ok(_) => {
                read += 1;
                // An archive naming an entry outside itself is refused, whatever else it holds.
                assert!(
                    !["dotdot", "absolute", "backslash", "nul-name"]
                        .iter()
                        .any(|hostile| name.contains(hostile)),
                    "{name} was accepted"
                );
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
    assert!(read >= 1, "the real archive seed no longer imports");
}

#[test]
fn containerd_config_corpus_loads_or_errors_without_panicking() {
    let files = corpus("containerd_config");
    let mut loaded = 0;
    for (_, data) in &files {
        let scratch = tempfile::tempdir().unwrap();
        let etc = scratch.path().join("etc/containerd");
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::write(etc.join("config.toml"), data).unwrap();
        let root = HostRoot::new(scratch.path()).unwrap();
        let scan = load_containerd(&root, Path::new(CONTAINERD_CONFIG));
        for e in &scan.errors {
            let _ = e.to_string();
        }
        loaded += usize::from(!scan.files.is_empty());
    }
    assert!(loaded >= 3, "only {loaded} configs loaded");
}

#[test]
fn debian_changelog_corpus_parses_without_panicking() {
    let files = corpus("debian_changelog");
    let probe = subject::normalize("hw/nvme: fix buffer overrun");
    let mut merges = 0;
    let mut reopened = 0;
    for (_, data) in &files {
        let text = String::from_utf8_lossy(data);
        let entries = hvguard_core::changelog::parse(&text);
        let _ = upstream_releases(&entries);
        merges += stable_merges(&entries).len();
        reopened += entries.iter().filter(|e| !e.reopens.is_empty()).count();
        for item in entries.iter().flat_map(|e| &e.items) {
            let _ = hvguard_core::changelog::cve_ids(&item.text);
            let _ = subject::same(&probe, &item.text);
        }
    }
    // The real Debian excerpts hold 7.2.N merges and a `Reopens:` entry.
    assert!(merges >= 1, "no upstream stable merge found");
    assert!(reopened >= 1, "no Reopens: found");
}

#[test]
fn qemu_stable_mail_corpus_parses_or_errors_without_panicking() {
    let files = corpus("qemu_stable_mail");
    let mut parsed = 0;
    for (path, data) in &files {
        match parse_announcement("8.2.3", "qemu-stable/8.2/8.2.3.txt", data) {
            Ok(mail) => {
                parsed += 1;
                let _ = mail.cite();
                let _ = mail.lists("hw/nvme: Use pcie_sriov_num_vfs()");
            }
            Err(e) => assert!(
                path.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("junk"),
                "{}: {e}",
                path.display()
            ),
        }
    }
    assert!(parsed >= 2, "only {parsed} real mails parsed");
}

#[test]
fn advisory_evidence_corpus_parses_or_errors_without_panicking() {
    let files = corpus("advisory_evidence");
    let mut parsed = 0;
    for (path, data) in &files {
        let Ok(text) = std::str::from_utf8(data) else {
            continue;
        };
        match Evidence::parse(text) {
            Ok(evidence) => {
                parsed += 1;
                let _ = evidence.facts_for("CVE-2024-3446").count();
                // The junk seeds (bad TOML, a fact without a source) must be refused.
                assert!(
                    !path
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .starts_with("junk"),
                    "{} was accepted",
                    path.display()
                );
            }
            Err(e) => assert!(!e.is_empty(), "{}: empty error", path.display()),
        }
    }
    assert!(parsed >= 1, "the real evidence file no longer parses");
}
