//! What `--textfile-dir` and `--nfd-file` add to a scan: rendering both files and writing them
//! atomically (temporary file, fsync, rename, folder fsync) into a temporary folder; and the
//! metrics' update and SLA sections (one journal query, the SLA over the findings).
//!
//! Run: `cargo bench -p hvguard --bench export`

#![allow(clippy::expect_used, clippy::unwrap_used)]

use hvguard::export::{metrics_input, publish, ExportArgs, MetricsSources};
use hvguard_advisory::policy::NfdPolicy;
use hvguard_core::HostRoot;
use std::path::PathBuf;

fn main() {
    divan::main();
}

fn report() -> hvguard_core::Report {
    report_with(&[])
}

/// The fixture's report, with the advisory findings of `advisories` (none: rules only).
fn report_with(advisories: &[hvguard_advisory::Advisory]) -> hvguard_core::Report {
    let root =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/hosts/kata-deploy");
    let snapshot = hvguard_host::collect(
        &HostRoot::new(&root).expect("fixture"),
        &hvguard_host::CollectOptions::default(),
    );
    let mut evaluation = hvguard_audit::evaluate(&snapshot);
    evaluation.findings.extend(
        hvguard_advisory::matching::match_snapshot(
            &snapshot,
            advisories,
            &hvguard_advisory::policy::Policy::default(),
            jiff::civil::date(2026, 11, 27),
        )
        .findings,
    );
    hvguard_core::Report::new(
        "2026-11-27T12:00:00Z".into(),
        hvguard_core::ReportHost {
            hostname: None,
            root: "/".into(),
            kernel: None,
            os: None,
        },
        evaluation.findings,
        evaluation.unknown,
        snapshot.hypervisors,
    )
}

#[divan::bench(sample_count = 200)]
fn publish_textfile_and_nfd(bencher: divan::Bencher) {
    let report = report();
    let policy = NfdPolicy::default();
    let metrics = metrics_input(&report, 0, &policy, None);
    let dir = tempfile::tempdir().unwrap();
    let args = ExportArgs {
        textfile_dir: Some(dir.path().to_path_buf()),
        nfd_file: Some(dir.path().join("hvguard")),
    };
    bencher.bench(|| publish(&args, divan::black_box(&report), &metrics, &policy).unwrap());
}

/// The update and SLA sections: the last finished apply out of a journal of 200 transactions,
/// and the SLA of the fixture's findings against the shipped advisories.
#[divan::bench(sample_count = 200)]
fn metrics_update_and_sla_sections(bencher: divan::Bencher) {
    let advisories = hvguard_advisory::shipped_snapshot().unwrap();
    let report = report_with(&advisories);
    assert!(report.findings.iter().any(|f| f.advisory.is_some()));
    let policy = NfdPolicy::default();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("advisories.db");
    let mut journal = hvguard_update::journal::Journal::open(&db).unwrap();
    for _ in 0..100 {
        let tx = journal.begin("apply", &[], None).unwrap();
        journal
            .finish(&tx, hvguard_update::result::Outcome::Updated)
            .unwrap();
        let tx = journal.begin("drill", &[], None).unwrap();
        journal
            .finish(&tx, hvguard_update::result::Outcome::RolledBack)
            .unwrap();
    }
    drop(journal);
    let update = hvguard_advisory::policy::UpdatePolicy::default();
    let sources = MetricsSources {
        store: &db,
        advisories: &advisories,
        policy: &update,
        today: jiff::civil::date(2026, 11, 27),
    };
    bencher.bench(|| {
        let m = metrics_input(divan::black_box(&report), 0, &policy, Some(&sources));
        assert!(m.last_update.is_some() && m.sla.is_some());
        m
    });
}
