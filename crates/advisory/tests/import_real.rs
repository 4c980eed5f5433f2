//! Every importer on the real records copied under tests/fixtures/advisories.

mod common;

use std::collections::BTreeSet;

use common::fixture;
use hvguard_advisory::import::{
    self, import_cve5_file, import_debian_tracker, import_epss, import_kev, import_nvd_cve_file,
    import_nvd_page_file, import_osv_file, import_osv_zip, ImportOptions,
};
use hvguard_advisory::{
    detect_format, shipped_snapshot, Advisory, Affected, DistroStatus, Event, FeedFormat, Product,
    Version, VersionScheme,
};

fn up(s: &str) -> Version {
    Version::parse(VersionScheme::Upstream, s).unwrap_or_else(|e| panic!("{e}"))
}

fn semver(s: &str) -> Version {
    Version::parse(VersionScheme::Semver, s).unwrap_or_else(|e| panic!("{e}"))
}

fn by_id<'a>(list: &'a [Advisory], id: &str) -> &'a Advisory {
    list.iter()
        .find(|a| a.id == id)
        .unwrap_or_else(|| panic!("{id} missing"))
}

fn files(dir: &str) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(fixture(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.map(|e| e.path()).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    out.sort();
    out
}

#[test]
fn osv_rustsec_records() {
    let mut all = Vec::new();
    for f in files("osv") {
        assert_eq!(
            detect_format(&f).ok(),
            Some(FeedFormat::Osv),
            "{}",
            f.display()
        );
        all.extend(import_osv_file(&f).unwrap_or_else(|e| panic!("{e}")));
    }
    assert_eq!(all.len(), 4);
    let vm = by_id(&all, "RUSTSEC-2023-0056");
    assert_eq!(vm.aliases, ["CVE-2023-41051", "GHSA-49hh-fprx-m68g"]);
    assert_eq!(vm.cve(), Some("CVE-2023-41051"));
    assert_eq!(vm.cvss.score(), Some(2.5));
    let crate_product = Product::RustVmm("vm-memory".into());
    assert_eq!(vm.affects(&crate_product, &semver("0.12.1")), Affected::Yes);
    assert_eq!(vm.affects(&crate_product, &semver("0.12.2")), Affected::No);
    assert_eq!(
        vm.affects(&Product::Qemu, &semver("0.12.1")),
        Affected::Unknown
    );
    // Two ranges in one OSV range object: 0.1.1 and 0.2.1 are fixed, 0.2.0 is not.
    let old = by_id(&all, "RUSTSEC-2020-0157");
    assert_eq!(old.affects(&crate_product, &semver("0.1.0")), Affected::Yes);
    assert_eq!(old.affects(&crate_product, &semver("0.1.1")), Affected::No);
    assert_eq!(old.affects(&crate_product, &semver("0.2.0")), Affected::Yes);
    assert_eq!(old.affects(&crate_product, &semver("0.2.1")), Affected::No);
    let kvm = by_id(&all, "RUSTSEC-2024-0428");
    assert!(kvm.cvss.is_empty());
    assert_eq!(
        kvm.products[0].product,
        Product::RustVmm("kvm-ioctls".into())
    );
}

#[test]
fn osv_directory_and_zip_archive_built_here() {
    let dir = import::import_path(&fixture("osv")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dir.advisories.len(), 4);
    assert_eq!(dir.files.len(), 4);

    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let zip_path = tmp.path().join("crates.io-all.zip");
    let file = std::fs::File::create(&zip_path).unwrap_or_else(|e| panic!("{e}"));
    let mut w = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for f in files("osv") {
        let name = f
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .replace("osv-rustsec-", "");
        w.start_file(name, opts).unwrap_or_else(|e| panic!("{e}"));
        std::io::Write::write_all(&mut w, &std::fs::read(&f).unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    w.start_file("README.txt", opts)
        .unwrap_or_else(|e| panic!("{e}"));
    w.finish().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(detect_format(&zip_path).ok(), Some(FeedFormat::OsvZip));
    let from_zip = import_osv_zip(&zip_path).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<_> = from_zip.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "RUSTSEC-2020-0157",
            "RUSTSEC-2023-0056",
            "RUSTSEC-2024-0002",
            "RUSTSEC-2024-0428"
        ]
    );
    let mut from_dir = dir.advisories.clone();
    from_dir.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(
        from_zip, from_dir,
        "zip and directory give the same advisories"
    );
}

#[test]
fn cve5_every_record() {
    let mut all = Vec::new();
    for f in files("cvelistV5") {
        assert_eq!(
            detect_format(&f).ok(),
            Some(FeedFormat::Cve5),
            "{}",
            f.display()
        );
        let got = import_cve5_file(&f).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.len(), 1, "{}", f.display());
        assert!(f.display().to_string().contains(&got[0].id));
        all.extend(got);
    }
    assert_eq!(all.len(), 20);
    // QEMU records whose "version" is prose give a product with no range: unknown.
    let prose = by_id(&all, "CVE-2020-14364");
    assert_eq!(prose.products.len(), 1);
    assert!(prose.products[0].ranges.is_empty());
    assert_eq!(
        prose.affects(&Product::Qemu, &up("5.1.0")),
        Affected::Unknown
    );
    // A real semver range from the CNA.
    let ranged = by_id(&all, "CVE-2025-12464");
    let v = |s: &str| Version::parse(VersionScheme::Semver, s).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ranged.affects(&Product::Qemu, &v("10.1.2")), Affected::Yes);
    assert_eq!(ranged.affects(&Product::Qemu, &v("10.1.3")), Affected::No);
    assert_eq!(ranged.affects(&Product::Qemu, &v("8.0.5")), Affected::No);
    assert_eq!(ranged.cvss.v3.as_ref().and_then(|c| c.score), Some(6.2));
    assert_eq!(ranged.cwe, ["CWE-121"]);
    // Red Hat's entries become RHEL verdicts, not products.
    assert!(ranged
        .distro
        .iter()
        .any(|d| d.distro == "rhel" && d.release == "9" && d.status == DistroStatus::Open));
    assert!(ranged
        .distro
        .iter()
        .any(|d| d.release == "7" && d.status == DistroStatus::NotAffected));
    // Kata's CNA ranges: 1.11 < 1.11.1, 1.10 < 1.10.5, <= 1.9.
    let kata = by_id(&all, "CVE-2020-2023");
    for (version, want) in [
        ("1.11.0", Affected::Yes),
        ("1.11.1", Affected::No),
        ("1.10.4", Affected::Yes),
        ("1.9", Affected::Yes),
        ("2.0.0", Affected::No),
    ] {
        assert_eq!(
            kata.affects(&Product::Kata, &up(version)),
            want,
            "{version}"
        );
    }
    // Records with only n/a carry no product at all.
    assert!(by_id(&all, "CVE-2015-3456").products.is_empty());
}

#[test]
fn nvd_single_cve_objects() {
    let mut all = Vec::new();
    for f in files("nvd") {
        assert_eq!(
            detect_format(&f).ok(),
            Some(FeedFormat::NvdCve),
            "{}",
            f.display()
        );
        all.extend(import_nvd_cve_file(&f).unwrap_or_else(|e| panic!("{e}")));
    }
    assert_eq!(all.len(), 24);
    let venom = by_id(&all, "CVE-2015-3456");
    assert_eq!(
        venom
            .products
            .iter()
            .filter(|p| p.product == Product::Qemu)
            .count(),
        1
    );
    assert_eq!(venom.affects(&Product::Qemu, &up("2.3.0")), Affected::Yes);
    // NVD's versionEndIncluding 2.3.0 is where its analysis stopped, not where the bug ended.
    assert_eq!(
        venom.affects(&Product::Qemu, &up("2.4.0")),
        Affected::Unknown
    );
    assert!(venom.products[0].ranges.ranges[0]
        .source
        .as_deref()
        .is_some_and(|s| s.contains("versionEndIncluding 2.3.0")));
    assert!(venom.cwe.contains(&"CWE-119".to_string()));
    let fc = by_id(&all, "CVE-2020-27174");
    assert_eq!(
        fc.affects(&Product::Firecracker, &up("0.21.2")),
        Affected::Yes
    );
    assert_eq!(
        fc.affects(&Product::Firecracker, &up("0.21.3")),
        Affected::No
    );
    assert_eq!(
        fc.affects(&Product::Firecracker, &up("v0.22.0")),
        Affected::Yes
    );
    // Exact-version CPEs, including QEMU's `8.1.0` + update `rc0`.
    let exact = by_id(&all, "CVE-2019-18960");
    assert_eq!(
        exact.affects(&Product::Firecracker, &up("0.19.0")),
        Affected::Yes
    );
    // A named version says nothing about the others.
    assert_eq!(
        exact.affects(&Product::Firecracker, &up("0.19.1")),
        Affected::Unknown
    );
    let rc = by_id(&all, "CVE-2023-3180");
    assert_eq!(rc.affects(&Product::Qemu, &up("8.1.0-rc1")), Affected::Yes);
    assert_eq!(rc.affects(&Product::Qemu, &up("8.1.0")), Affected::No);
    // A `cpe:...:*` with no bounds at all is not read as "every version".
    let unbounded = by_id(&all, "CVE-2024-8354");
    assert_eq!(
        unbounded.affects(&Product::Qemu, &up("9.1.0")),
        Affected::Unknown
    );
    assert_eq!(
        by_id(&all, "CVE-2020-28914").products[0].product,
        Product::Kata
    );
    assert_eq!(
        by_id(&all, "CVE-2023-41051").products[0].product,
        Product::RustVmm("vm-memory".into())
    );
    // The whole tree through the generic entry point.
    let tree = import::import_path(&fixture("nvd")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tree.advisories.len(), 24);
}

#[test]
fn nvd_api_page() {
    let f = &files("nvd-page")[0];
    assert_eq!(detect_format(f).ok(), Some(FeedFormat::NvdPage));
    let page = import_nvd_page_file(f).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].id, "CVE-2022-1576");
    assert!(
        matches!(&page[0].products[0].product, Product::Other(o) if o.starts_with("cpe:themeisle:"))
    );
    let r = &page[0].products[0].ranges.ranges[0];
    assert_eq!(
        r.events,
        [Event::Introduced("0".into()), Event::Fixed("2.4.5".into())]
    );
}

#[test]
fn debian_tracker_keeps_only_the_asked_packages() {
    let f = &files("debian")[0];
    assert_eq!(detect_format(f).ok(), Some(FeedFormat::DebianTracker));
    let default = import_debian_tracker(f, &import::default_debian_packages())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(default.is_empty(), "the sample holds no hypervisor package");
    let wanted: BTreeSet<String> = ["chromium", "prototypejs", "chromium-browser"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let facts = import_debian_tracker(f, &wanted).unwrap_or_else(|e| panic!("{e}"));
    let bookworm: Vec<_> = facts
        .iter()
        .filter(|d| d.id == "CVE-2022-0456" && d.fix.release == "bookworm")
        .collect();
    assert_eq!(bookworm.len(), 1);
    assert_eq!(bookworm[0].fix.status, DistroStatus::Fixed);
    assert_eq!(
        bookworm[0].fix.fixed_version.as_deref(),
        Some("98.0.4758.80-1")
    );
    assert!(facts
        .iter()
        .any(|d| d.fix.status == DistroStatus::EndOfLife && d.fix.release == "stretch"));
    assert!(facts.iter().all(|d| d.fix.package != "txt2man"));
    // `chromium-browser` has `"releases": []`: accepted, no facts.
    assert!(facts.iter().all(|d| d.fix.package != "chromium-browser"));
    assert_eq!(
        facts
            .iter()
            .filter(|d| d.fix.package == "prototypejs")
            .count(),
        8
    );
}

#[test]
fn kev_catalog() {
    let f = &files("kev")[0];
    assert_eq!(detect_format(f).ok(), Some(FeedFormat::Kev));
    let kev = import_kev(f).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(kev.version, "2025.08.25");
    assert_eq!(kev.entries.len(), 1404);
    let git = &kev.entries["CVE-2025-48384"];
    assert_eq!(
        git.date_added.map(|d| d.to_string()).as_deref(),
        Some("2025-08-25")
    );
    // No hypervisor Kata uses is in this catalog.
    assert!(!kev.entries.contains_key("CVE-2015-3456"));
    assert!(
        kev.entries.contains_key("CVE-2025-22224"),
        "VMware ESXi entry"
    );
}

#[test]
fn epss_plain_and_gzip() {
    let plain =
        import_epss(&fixture("epss/epss_scores-sample.csv")).unwrap_or_else(|e| panic!("{e}"));
    let gz =
        import_epss(&fixture("epss/epss_scores-sample.csv.gz")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plain, gz);
    assert_eq!(plain.scores.len(), 7);
    assert_eq!(
        plain.model.as_deref(),
        Some("model_version:v2025.03.14,score_date:2026-11-26T12:55:00Z")
    );
    assert_eq!(plain.scores["CVE-2015-3456"].epss, 0.04871);
    assert_eq!(
        detect_format(&fixture("epss/epss_scores-sample.csv.gz")).ok(),
        Some(FeedFormat::Epss)
    );
    let all = import::import_path_with(&fixture("epss"), &ImportOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.epss.len(), 7);
}

#[test]
fn shipped_snapshot_has_the_curated_advisories_but_the_rejected_one() {
    let snap = shipped_snapshot().unwrap_or_else(|e| panic!("{e}"));
    // 151 curated records; CVE-2020-25707 is Rejected by NVD and dropped with a note.
    assert_eq!(snap.len(), 150);
    assert!(snap.iter().all(|a| a.id != "CVE-2020-25707"));
    let count = |p: fn(&Product) -> bool| snap.iter().filter(|a| p(&a.products[0].product)).count();
    assert_eq!(count(|p| *p == Product::Qemu), 126);
    assert_eq!(count(|p| *p == Product::Kata), 12);
    assert_eq!(count(|p| *p == Product::Firecracker), 5);
    assert_eq!(count(|p| *p == Product::CloudHypervisor), 3);
    assert_eq!(count(|p| matches!(p, Product::RustVmm(_))), 4);
    assert!(snap.iter().all(|a| a.products.len() == 1));
    // Records with no range, named version or fix: unknown, never all, never none.
    let empty: Vec<_> = snap
        .iter()
        .filter(|a| a.products[0].ranges.is_empty())
        .collect();
    assert_eq!(
        empty.len(),
        9,
        "{:?}",
        empty.iter().map(|a| &a.id).collect::<Vec<_>>()
    );
    assert!(empty
        .iter()
        .all(|a| a.affects(&a.products[0].product, &up("7.2.22")) == Affected::Unknown));
    // Every range, named version and fix says where it came from.
    for a in &snap {
        let r = &a.products[0].ranges;
        assert!(r.ranges.iter().all(|x| x.source.is_some()), "{}", a.id);
        assert!(r.versions.iter().all(|x| x.source.is_some()), "{}", a.id);
        assert!(r.fixes.iter().all(|x| !x.source.is_empty()), "{}", a.id);
    }
    let kata = by_id(&snap, "CVE-2020-2023");
    assert_eq!(kata.affects(&Product::Kata, &up("1.10.4")), Affected::Yes);
    assert_eq!(kata.affects(&Product::Kata, &up("3.20.0")), Affected::No);
    let vmm = by_id(&snap, "RUSTSEC-2024-0002");
    assert_eq!(
        vmm.products[0].product,
        Product::RustVmm("vmm-sys-util".into())
    );
    assert_eq!(
        vmm.affects(&vmm.products[0].product, &semver("0.11.9")),
        Affected::Yes
    );
    let first = by_id(&snap, "CVE-2018-19665");
    assert_eq!(first.cvss.score(), Some(5.7));
    assert_eq!(first.affects(&Product::Qemu, &up("3.0.1")), Affected::Yes);
    assert_eq!(
        first.affects(&Product::Qemu, &up("3.1.0-rc0")),
        Affected::Yes
    );
    assert_eq!(
        first.affects(&Product::Qemu, &up("3.1.0")),
        Affected::Unknown
    );
    // The shipped file reads back the same through the importer, like any feed.
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/hypervisor-advisories.json");
    assert_eq!(detect_format(&path).ok(), Some(FeedFormat::Snapshot));
    assert_eq!(
        import::import_snapshot(&path).unwrap_or_else(|e| panic!("{e}")),
        snap
    );
}

#[test]
fn feed_facts_join_the_shipped_snapshot_by_cve_id() {
    let mut snap = shipped_snapshot().unwrap_or_else(|e| panic!("{e}"));
    let kev = import_kev(&files("kev")[0]).unwrap_or_else(|e| panic!("{e}"));
    let epss =
        import_epss(&fixture("epss/epss_scores-sample.csv")).unwrap_or_else(|e| panic!("{e}"));
    let distro = vec![hvguard_advisory::DistroAdvisory {
        id: "CVE-2023-3180".into(),
        fix: hvguard_advisory::DistroFix {
            distro: "debian".into(),
            release: "bookworm".into(),
            package: "qemu".into(),
            status: DistroStatus::Fixed,
            fixed_version: Some("1:7.2+dfsg-7+deb12u2".into()),
            urgency: None,
            changelog: None,
        },
    }];
    let touched = hvguard_advisory::apply_facts(&mut snap, &kev.entries, &epss.scores, &distro);
    // No hypervisor CVE is in the real KEV catalog; every EPSS sample CVE that the curated
    // set holds gets its score, and the one distro verdict lands on its CVE.
    assert!(snap.iter().all(|a| a.kev.is_none()));
    let scored: Vec<_> = snap
        .iter()
        .filter(|a| a.epss.is_some())
        .map(|a| a.id.as_str())
        .collect();
    let expected: Vec<_> = epss
        .scores
        .keys()
        .filter(|id| snap.iter().any(|a| a.is_known_as(id)))
        .map(String::as_str)
        .collect();
    assert_eq!(scored, expected);
    assert!(!scored.is_empty());
    assert_eq!(by_id(&snap, "CVE-2023-3180").distro.len(), 1);
    let distinct: BTreeSet<&str> = scored.iter().copied().chain(["CVE-2023-3180"]).collect();
    assert_eq!(touched, distinct.len());
}

/// A folder holding a feed and a JSON file that is none (the KEV catalogue's JSON Schema,
/// which names `catalogVersion` and `vulnerabilities` one level down): the feed is imported
/// and the other file skipped and named; named on its own, that file is an error.
#[test]
fn folders_skip_and_name_what_is_no_feed() {
    let schema = fixture("mixed/cisa-kev-schema.json");
    assert_eq!(detect_format(&schema).ok(), None);
    let err = import::import_path(&schema).unwrap_err();
    assert!(err.to_string().contains("cisa-kev-schema.json"), "{err}");
    let imported = import::import_path(&fixture("mixed")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(imported.advisories.len(), 1);
    assert_eq!(imported.skipped.len(), 1);
    assert_eq!(imported.skipped[0].0, schema);
    assert!(
        imported.skipped[0].1.contains("JSON"),
        "{}",
        imported.skipped[0].1
    );
    // The real catalogue next to it is still recognised.
    assert_eq!(detect_format(&files("kev")[0]).ok(), Some(FeedFormat::Kev));
}

/// A feed cut short loses the keys that would name it; in a folder it stops the import
/// with its name and position instead of joining the skipped files. A CVE 5 record whose
/// `cveMetadata` comes after a long `containers` object is still recognised by its `cna`.
#[test]
fn a_cut_short_json_file_in_a_folder_is_an_error_not_a_skip() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let real =
        std::fs::read(fixture("cvelistV5/CVE-2015-3456.json")).unwrap_or_else(|e| panic!("{e}"));
    let head = &real[..real.len() / 2];
    assert!(!head.windows(11).any(|w| w == b"cveMetadata"));
    assert_eq!(
        import::detect_format_bytes(head),
        Some(FeedFormat::Cve5),
        "recognised by containers.cna"
    );
    let unknown = dir.path().join("cut.json");
    std::fs::write(&unknown, b"{\"items\": [1, 2, {\"a\": ").unwrap_or_else(|e| panic!("{e}"));
    let err = import::import_path(dir.path()).unwrap_err().to_string();
    assert!(err.contains("cut.json"), "{err}");
    std::fs::write(&unknown, b"{\"items\": [1, 2]}").unwrap_or_else(|e| panic!("{e}"));
    let imported = import::import_path(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(imported.skipped.len(), 1);
}

/// NVD's exclusive start and a limit survive a write and a read of the snapshot: the start
/// version itself stays unaffected, and the limit is not turned into a fix.
#[test]
fn snapshot_keeps_exclusive_starts_and_limits() {
    use hvguard_advisory::{AffectedProduct, Range, Ranges};
    let mut adv = Advisory::new("CVE-2099-0001");
    adv.components = vec!["virtio-net".into()];
    adv.products.push(AffectedProduct {
        product: Product::Qemu,
        package: None,
        ranges: Ranges {
            ranges: vec![Range {
                scheme: VersionScheme::Upstream,
                events: vec![
                    Event::IntroducedAfter("8.0.0".into()),
                    Event::Limit("9.0.0".into()),
                ],
                source: Some("NVD CPE versionStartExcluding 8.0.0".into()),
            }],
            ..Ranges::default()
        },
    });
    let text = import::write_snapshot(&[adv], &[], None).unwrap_or_else(|e| panic!("{e}"));
    assert!(text.contains("\"introduced_after\": \"8.0.0\""), "{text}");
    let back = import::parse_snapshot(std::path::Path::new("mem.json"), text.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let ranges = &back[0].products[0].ranges;
    assert_eq!(
        ranges.ranges[0].events,
        vec![
            Event::IntroducedAfter("8.0.0".into()),
            Event::Limit("9.0.0".into())
        ]
    );
    assert_eq!(ranges.affects(&up("8.0.0")), Affected::No);
    assert_eq!(ranges.affects(&up("8.1.0")), Affected::Yes);
}
