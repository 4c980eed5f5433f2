//! What `--textfile-dir` and `--nfd-file` add to a scan: rendering both files and writing them
//! atomically (temporary file, fsync, rename, folder fsync) into a temporary folder.
//!
//! Run: `cargo bench -p hvguard --bench export`

#![allow(clippy::expect_used, clippy::unwrap_used)]

use hvguard::export::{metrics_input, publish, ExportArgs};
use hvguard_advisory::policy::NfdPolicy;
use hvguard_core::HostRoot;
use std::path::PathBuf;

fn main() {
    divan::main();
}

fn report() -> hvguard_core::Report {
    let root =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/hosts/kata-deploy");
    let snapshot = hvguard_host::collect(
        &HostRoot::new(&root).expect("fixture"),
        &hvguard_host::CollectOptions::default(),
    );
    let evaluation = hvguard_audit::evaluate(&snapshot);
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
    let metrics = metrics_input(&report, 0, &policy);
    let dir = tempfile::tempdir().unwrap();
    let args = ExportArgs {
        textfile_dir: Some(dir.path().to_path_buf()),
        nfd_file: Some(dir.path().join("hvguard")),
    };
    bencher.bench(|| publish(&args, divan::black_box(&report), &metrics, &policy).unwrap());
}
