//! Comparison speed: the shipped facts and advisories against the kata-static fixture host
//! carrying kata-deploy's eight real Kata 3.20.0 configurations (collected once, outside the
//! measurement): the whole comparison (records, the matcher, every configuration's choice),
//! the Markdown rendering, and parsing the facts file.
//!
//! Run: `cargo bench -p hvguard-compare --bench compare`

use std::path::Path;

use hvguard_advisory::policy::Policy;
use hvguard_compare::model::AdvisoriesFrom;
use hvguard_compare::render::markdown;
use hvguard_compare::{compare, shipped_facts, CompareInput, Comparison, Facts};
use hvguard_core::{HostRoot, Snapshot};

fn main() {
    divan::main();
}

fn hosts(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/hosts")
        .join(name)
}

fn fixture() -> Option<Snapshot> {
    let host = HostRoot::new(hosts("kata-static")).ok()?;
    let mut snapshot = hvguard_host::collect(&host, &hvguard_host::CollectOptions::default());
    let configs = HostRoot::new(hosts("kata-deploy")).ok()?;
    snapshot.kata =
        hvguard_kata::discover(&configs, &hvguard_kata::DiscoveryEnv::default()).configs;
    Some(snapshot)
}

fn inputs() -> (Facts, Vec<hvguard_advisory::Advisory>, Snapshot) {
    match (
        shipped_facts(),
        hvguard_advisory::shipped_snapshot(),
        fixture(),
    ) {
        (Ok(f), Ok(a), Some(s)) => (f, a, s),
        _ => {
            eprintln!("shipped data or fixtures missing");
            std::process::exit(2);
        }
    }
}

fn run(
    facts: &Facts,
    advisories: &[hvguard_advisory::Advisory],
    snapshot: &Snapshot,
) -> Comparison {
    compare(CompareInput {
        facts,
        advisories,
        advisories_from: AdvisoriesFrom {
            source: "shipped",
            store: None,
            count: 0,
        },
        snapshot,
        policy: &Policy::default(),
        today: jiff::civil::date(2026, 11, 29),
        generated_at: String::new(),
        since: None,
    })
}

#[divan::bench]
fn compare_fixture(bencher: divan::Bencher) {
    let (facts, advisories, snapshot) = inputs();
    bencher.bench_local(|| {
        run(
            divan::black_box(&facts),
            divan::black_box(&advisories),
            divan::black_box(&snapshot),
        )
    });
}

#[divan::bench]
fn render_markdown(bencher: divan::Bencher) {
    let (facts, advisories, snapshot) = inputs();
    let comparison = run(&facts, &advisories, &snapshot);
    bencher.bench_local(|| markdown::render(divan::black_box(&comparison)));
}

#[divan::bench]
fn parse_facts(bencher: divan::Bencher) {
    bencher.bench_local(shipped_facts);
}
