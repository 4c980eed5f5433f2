//! The shipped snapshot is exactly what `hvguard db build` makes of the inputs in
//! `data/build/`, and the build's derived facts agree with the sources they cite.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use hvguard_advisory::build::{announce::parse_announcement, build};
use hvguard_advisory::{FixKind, Product};

fn inputs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/build")
}

#[test]
fn the_shipped_snapshot_is_what_the_inputs_build() {
    let built = build(&inputs()).unwrap();
    let text = built.to_json().unwrap();
    let shipped = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/hypervisor-advisories.json"),
    )
    .unwrap();
    assert!(
        text == shipped,
        "crates/advisory/data/hypervisor-advisories.json is stale: run {}",
        hvguard_advisory::build::BUILT_BY
    );
    // Building twice gives the same bytes.
    assert_eq!(build(&inputs()).unwrap().to_json().unwrap(), text);
    assert_eq!(built.dropped.len(), 1);
    assert_eq!(built.dropped[0].id, "CVE-2020-25707");
}

/// The stable mails' own README lists, per CVE, the first release of each series whose mail
/// names it (regression fixes excluded). The build's mail-derived facts never contradict it.
#[test]
fn mail_derived_branch_fixes_agree_with_the_mail_index() {
    let readme = std::fs::read_to_string(inputs().join("qemu-stable/README.md")).unwrap();
    let mut table: BTreeSet<(String, String)> = BTreeSet::new();
    for line in readme.lines().filter(|l| l.starts_with("| CVE-")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells[3].contains("regression fix") {
            continue;
        }
        let version = cells[3]
            .trim_start_matches('[')
            .split(']')
            .next()
            .unwrap()
            .to_owned();
        table.insert((cells[1].to_owned(), version));
    }
    assert!(table.len() >= 20, "{}", table.len());
    let built = build(&inputs()).unwrap();
    for adv in &built.advisories {
        for fix in adv.products[0].ranges.fixes.iter() {
            if fix.kind == FixKind::Branch && fix.source.contains(&format!("names {}", adv.id)) {
                assert!(
                    table.contains(&(adv.id.clone(), fix.version.clone())),
                    "{} {}: {}",
                    adv.id,
                    fix.version,
                    fix.source
                );
            }
        }
    }
    // And every indexed (CVE, release) the shipped data knows the CVE of is found.
    for (id, version) in &table {
        if let Some(adv) = built.advisories.iter().find(|a| &a.id == id) {
            assert!(
                adv.products[0]
                    .ranges
                    .fixes
                    .iter()
                    .any(|f| f.kind == FixKind::Branch && &f.version == version),
                "{id} {version}"
            );
        }
    }
}

#[test]
fn every_mail_parses_with_its_date() {
    let dir = inputs().join("qemu-stable");
    let mut count = 0;
    for series in std::fs::read_dir(&dir).unwrap() {
        let series = series.unwrap().path();
        if !series.is_dir() {
            continue;
        }
        for mail in std::fs::read_dir(&series).unwrap() {
            let mail = mail.unwrap().path();
            let version = mail.file_stem().unwrap().to_string_lossy().into_owned();
            let a = parse_announcement(&version, "f", &std::fs::read(&mail).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", mail.display()));
            assert!(a.date.year() >= 2023, "{}", mail.display());
            count += 1;
        }
    }
    assert_eq!(count, 64);
}

#[test]
fn every_derived_fact_names_its_source() {
    let built = build(&inputs()).unwrap();
    for adv in built
        .advisories
        .iter()
        .filter(|a| a.products[0].product == Product::Qemu)
    {
        for f in &adv.products[0].ranges.fixes {
            assert!(
                f.source.contains("Debian qemu changelog")
                    || f.source.contains("qemu-stable ")
                    || f.source.starts_with("derived: ")
                    || f.source.starts_with("evidence.toml: "),
                "{}: {}",
                adv.id,
                f.source
            );
        }
    }
}
