//! Replays the `host_text` and `hypervisor_scan` fuzz corpora (seeds and any crasher saved
//! there) through the same functions as the fuzz targets, as ordinary tests: errors are fine,
//! panics are not.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hvguard_host::hypervisors::{elf, kind::BANNERS, qom, scan};
use hvguard_host::{cpu, identity, kernel, packages};
use std::io::Cursor;
use std::path::{Path, PathBuf};

/// Every file of the corpus of `target`, sorted; an empty corpus fails the test.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    hvguard_testkit::fuzz_corpus(target, 1)
}

#[test]
fn host_text_corpus_parses_or_errors_without_panicking() {
    let files = corpus("host_text");
    let mut parsed = 0;
    for (path, bytes) in &files {
        // The fuzz target skips non-UTF-8 input the same way.
        let Ok(text) = std::str::from_utf8(bytes) else {
            continue;
        };
        let _ = kernel::parse_cmdline(text);
        let results = [
            cpu::parse_cpuinfo(text)
                .map(drop)
                .map_err(|e| e.to_string()),
            kernel::parse_swaps(text)
                .map(drop)
                .map_err(|e| e.to_string()),
            kernel::parse_lsm(text).map(drop).map_err(|e| e.to_string()),
            kernel::parse_proc_version(text)
                .map(drop)
                .map_err(|e| e.to_string()),
            kernel::parse_os_release(text)
                .map(drop)
                .map_err(|e| e.to_string()),
            packages::dpkg::parse_status(text)
                .map(drop)
                .map_err(|e| format!("{e:?}")),
            packages::rpm::parse_rpm_qa(text)
                .map(drop)
                .map_err(|e| e.to_string()),
            identity::parse_machine_id(text)
                .map(|id| {
                    assert_eq!(id.as_str().len(), 32, "{}", path.display());
                    assert!(id
                        .as_str()
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
                })
                .map_err(|e| e.to_string()),
        ];
        if path.file_name().is_some_and(|n| n == "handmade-machine-id") {
            assert!(
                identity::parse_machine_id(text).is_ok(),
                "the machine-id seed parses"
            );
        }
        if results.iter().any(Result::is_ok) {
            parsed += 1;
        } else {
            eprintln!("{}: rejected by every parser", path.display());
        }
    }
    // The real seeds (cpuinfo, os-release, dpkg status, ...) must keep parsing.
    assert!(parsed >= 5, "only {parsed} of {} files parsed", files.len());
}

#[test]
fn hypervisor_scan_corpus_scans_without_panicking() {
    let files = corpus("hypervisor_scan");
    let mut found = 0;
    let mut qom_seen = false;
    for (path, bytes) in &files {
        let len = bytes.len() as u64;
        let mut file = Cursor::new(bytes.as_slice());
        let _ = elf::find_section(&mut file, len, ".rodata");
        let _ = elf::find_section(&mut file, len, "");
        let whole = scan::find_in_file(&mut file, len, BANNERS);
        let chunk = usize::from(bytes.first().copied().unwrap_or(1) % 64) + 1;
        let _ = scan::find_in_stream(bytes.as_slice(), BANNERS, chunk);
        let inventory = qom::inventory(&mut file, len, Path::new("/fuzz/qemu"));
        if path.ends_with("handmade-elf-qom-names") {
            // A gcc-built ELF whose .rodata holds the anchors, pvrdma and the bare
            // `virtio-sound` of the virtio id table (which must not count as the device).
            let inventory = inventory.unwrap();
            assert!(inventory.anchors_found, "{}", inventory.source);
            assert!(inventory.present.contains("pvrdma"));
            assert!(inventory.absent.contains("virtio-sound-pci"));
            qom_seen = true;
        }
        let _ = qom::names_in(bytes);
        if let Ok(Some(m)) = whole {
            found += 1;
            assert!(
                m.offset < len,
                "{}: offset {} past the end",
                path.display(),
                m.offset
            );
        }
    }
    // The real hypervisor seeds carry banners.
    assert!(found >= 2, "banners found in only {found} files");
    assert!(qom_seen, "the QOM seed is missing");
}

#[test]
fn md5sums_corpus_parses_or_errors_without_panicking() {
    use hvguard_host::integrity::md5sums::parse_md5sums;
    let mut parsed = 0;
    for (path, bytes) in corpus("md5sums") {
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        if let Ok(entries) = parse_md5sums(text) {
            parsed += 1;
            for e in entries {
                assert!(e.path.is_absolute(), "{}", path.display());
                assert!(
                    !e.path.components().any(|c| c.as_os_str() == ".."),
                    "{}",
                    path.display()
                );
            }
        }
    }
    // The two real dpkg lists parse; the hand-made broken ones do not.
    assert_eq!(parsed, 2);
}

mod digest_cache_harness {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/harness/digest_cache.rs"
    ));
}

#[test]
fn digest_cache_corpus_parses_or_is_ignored_without_panicking() {
    let mut seen = Vec::new();
    for (path, bytes) in corpus("digest_cache") {
        let accepted = digest_cache_harness::check_digest_cache(&bytes);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        seen.push((name, accepted));
    }
    let expect = |name: &str| {
        seen.iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("seed {name} missing"))
            .1
    };
    // The real file this host's scan wrote: every entry, for the live root only.
    assert_eq!(expect("real-debian12-live"), [129, 0]);
    assert_eq!(expect("handmade-escaped-root"), [0, 2]);
    assert_eq!(expect("handmade-crlf"), [1, 0]);
    // Damaged lines are skipped one by one; the rest of the file still counts.
    assert_eq!(expect("junk-damaged-lines"), [2, 0]);
    for junk in [
        "junk-other-version",
        "junk-no-root-line",
        "junk-root-prefix",
        "junk-unescaped-root",
    ] {
        assert_eq!(expect(junk), [0, 0], "{junk}");
    }
}

mod binary_facts_harness {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/harness/binary_facts.rs"
    ));
}

/// The seeds carry the `facts` line of the hvguard that wrote them; a new hvguard version or
/// catalogue changes that line (and a real file would read as empty, as it must), so the
/// replay puts the current line into every seed that had a real one, to keep testing the
/// entries. `facts 0000000000000000` stands for another hvguard's file and is kept.
fn with_current_facts_line(bytes: &[u8]) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return bytes.to_vec();
    };
    let current = hvguard_host::binfacts::file::facts_line();
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let is_real = line.starts_with("facts ") && !line.starts_with("facts 0000000000000000");
        if i == 2 && is_real {
            out.push_str(current);
            out.push_str(&line[line.trim_end_matches(['\r', '\n']).len()..]);
        } else {
            out.push_str(line);
        }
    }
    out.into_bytes()
}

#[test]
fn binary_facts_corpus_parses_or_is_ignored_without_panicking() {
    let mut seen = Vec::new();
    for (path, bytes) in corpus("binary_facts") {
        // As found (what the fuzzer runs), then with this hvguard's `facts` line.
        binary_facts_harness::check_binary_facts(&bytes);
        let accepted = binary_facts_harness::check_binary_facts(&with_current_facts_line(&bytes));
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        seen.push((name, accepted));
    }
    let expect = |name: &str| {
        seen.iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("seed {name} missing"))
            .1
    };
    // The real file this host's scan wrote: three QEMU builds (banner and type names), the
    // storage daemon, the bridge helper, QEMU's virtiofsd and containerd, for the live root.
    assert_eq!(expect("real-debian12-live"), [10, 0]);
    assert_eq!(expect("handmade-escaped-root"), [0, 2]);
    assert_eq!(expect("handmade-crlf"), [1, 0]);
    // Damaged lines are skipped one by one; the rest of the file still counts.
    assert_eq!(expect("junk-damaged-lines"), [2, 0]);
    for junk in [
        "junk-other-hvguard",
        "junk-other-version",
        "junk-no-root-line",
        "junk-no-facts-line",
        "junk-other-root",
    ] {
        assert_eq!(expect(junk), [0, 0], "{junk}");
    }
}
