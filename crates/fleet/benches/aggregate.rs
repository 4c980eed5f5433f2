//! The fleet report's reading and folding: one real node report parsed, and a generated
//! fleet of 10,000 node reports (plus 1,000 update results, varied from the fixture hosts'
//! real reports) aggregated with one and two reader threads. The whole-process comparison
//! with a plain Python `json.load` loop is a hyperfine run: see docs/benchmarks.md.
//!
//! Run: `cargo bench -p hvguard-fleet --bench aggregate`

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/generate.rs"]
mod generate;

use std::path::PathBuf;
use std::sync::OnceLock;

/// The generated fleet (216 MiB), written once per bench run.
static FLEET: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();

fn main() {
    divan::main();
    // A static is never dropped, so its TempDir would stay behind: removed here.
    if let Some((dir, _)) = FLEET.get() {
        let _ = std::fs::remove_dir_all(dir.path());
    }
}

fn fleet() -> &'static PathBuf {
    &FLEET
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("fleet");
            generate::write_fleet(&path, 10_000, jiff::Timestamp::now());
            (dir, path)
        })
        .1
}

#[divan::bench]
fn parse_one_real_report(bencher: divan::Bencher) {
    let bytes = std::fs::read(generate::fixtures().join("intel-problems.json")).unwrap();
    bencher
        .counter(divan::counter::BytesCount::new(bytes.len()))
        .bench(|| hvguard_fleet::parse_document(divan::black_box(&bytes)).unwrap());
}

#[divan::bench(args = [1, 2], sample_count = 10)]
fn aggregate_10000_nodes(bencher: divan::Bencher, jobs: usize) {
    let paths = vec![fleet().clone()];
    let mut options = hvguard_fleet::Options::new(jiff::Timestamp::now());
    options.jobs = jobs;
    bencher.bench(|| {
        let report = hvguard_fleet::aggregate(divan::black_box(&paths), &options);
        assert_eq!(report.nodes, 10_000);
        report
    });
}

#[divan::bench(sample_count = 10)]
fn render_html_10000_nodes(bencher: divan::Bencher) {
    let paths = vec![fleet().clone()];
    let report =
        hvguard_fleet::aggregate(&paths, &hvguard_fleet::Options::new(jiff::Timestamp::now()));
    bencher.bench(|| hvguard_fleet::render::render_html(divan::black_box(&report)).len());
}
