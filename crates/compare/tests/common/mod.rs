//! Shared inputs: the kata-static fixture host (static Kata 3.20.0 binaries) carrying the real
//! Kata 3.20.0 configurations of the kata-deploy fixture, the shipped advisories, a fixed day.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use hvguard_advisory::policy::Policy;
use hvguard_advisory::Advisory;
use hvguard_compare::model::AdvisoriesFrom;
use hvguard_compare::{compare, shipped_facts, CompareInput, Comparison, Facts, Since};
use hvguard_core::{HostRoot, Snapshot};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn hosts(name: &str) -> PathBuf {
    workspace().join("tests/fixtures/hosts").join(name)
}

pub fn today() -> jiff::civil::Date {
    jiff::civil::date(2026, 11, 29)
}

pub fn facts() -> Facts {
    shipped_facts().expect("shipped facts")
}

pub fn shipped() -> Vec<Advisory> {
    hvguard_advisory::shipped_snapshot().expect("shipped advisories")
}

/// kata-static's host and binaries with kata-deploy's configurations, linked the way the CLI's
/// pipeline links them (a configuration naming a binary's path uses it).
pub fn fixture_snapshot() -> Snapshot {
    let host = HostRoot::new(hosts("kata-static")).expect("root");
    let mut snapshot = hvguard_host::collect(&host, &hvguard_host::CollectOptions::default());
    let configs_root = HostRoot::new(hosts("kata-deploy")).expect("root");
    let found = hvguard_kata::discover(&configs_root, &hvguard_kata::DiscoveryEnv::default());
    assert!(found.errors.is_empty(), "{:?}", found.errors);
    snapshot.kata = found.configs;
    for hypervisor in &mut snapshot.hypervisors {
        hypervisor.used_by = snapshot
            .kata
            .iter()
            .filter(|c| {
                hvguard_kata::kata_binary_paths(std::slice::from_ref(*c))
                    .iter()
                    .any(|p| p == &hypervisor.path)
            })
            .map(|c| c.main.clone())
            .collect();
    }
    snapshot
}

pub fn comparison(
    snapshot: &Snapshot,
    advisories: &[Advisory],
    since: Option<Since>,
) -> Comparison {
    let facts = facts();
    compare(CompareInput {
        facts: &facts,
        advisories,
        advisories_from: AdvisoriesFrom {
            source: "shipped",
            store: None,
            count: 0,
        },
        snapshot,
        policy: &Policy::default(),
        today: today(),
        generated_at: "2026-11-29T12:00:00Z".to_owned(),
        since,
    })
}
