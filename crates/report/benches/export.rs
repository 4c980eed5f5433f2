//! The exporters on a realistic report and on a large one: Prometheus text and the NFD
//! feature file (both include the core's tally of the report).
//!
//! Run: `cargo bench -p hvguard-report --bench export`

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use hvguard_core::{Finding, Report, RuleId, Severity};
use hvguard_report::{render_nfd, render_prometheus, MetricsInput, NfdInput};

fn main() {
    divan::main();
}

fn input() -> MetricsInput {
    MetricsInput {
        hvguard_version: "0.1.0".into(),
        kata_ready: Some(false),
        ..MetricsInput::default()
    }
}

/// The sample report with its findings repeated over 40 rules: 360 findings, as a kata-deploy
/// node with many configurations and advisories might have.
fn large() -> Report {
    let sample = common::sample_report();
    let mut findings: Vec<Finding> = Vec::new();
    for i in 0..40 {
        for f in &sample.findings {
            let mut f = f.clone();
            f.rule = RuleId::new(&format!("{}-{i}", f.rule.as_str())).unwrap();
            findings.push(f);
        }
    }
    Report::new(
        sample.generated_at.clone(),
        sample.host.clone(),
        findings,
        sample.unknown.clone(),
        sample.hypervisors.clone(),
    )
}

#[divan::bench]
fn prometheus_sample(bencher: divan::Bencher) {
    let report = common::sample_report();
    let input = input();
    bencher.bench(|| render_prometheus(divan::black_box(&report), &input));
}

#[divan::bench]
fn prometheus_360_findings(bencher: divan::Bencher) {
    let report = large();
    assert_eq!(report.summary.count(Severity::Critical), 80);
    let input = input();
    bencher.bench(|| render_prometheus(divan::black_box(&report), &input));
}

#[divan::bench]
fn nfd_sample(bencher: divan::Bencher) {
    let report = common::sample_report();
    let input = NfdInput {
        kata_ready: false,
        expires_at: "2026-11-27T13:00:00Z".parse().unwrap(),
    };
    bencher.bench(|| render_nfd(divan::black_box(&report), &input));
}
