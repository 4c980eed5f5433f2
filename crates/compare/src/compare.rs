//! Puts the comparison together: facts + advisories + Snapshot in, [`Comparison`] out, no I/O.

use std::collections::BTreeSet;

use jiff::civil::Date;

use hvguard_advisory::matching::match_snapshot;
use hvguard_advisory::policy::Policy;
use hvguard_advisory::{Advisory, Product};
use hvguard_core::{KataRuntime, Snapshot};

use crate::choice::choose;
use crate::configured::configured;
use crate::facts::{CompareKind, Facts};
use crate::host::{config_kind, installed, sev_snp, tdx};
use crate::integrity::{guest_integrity, HostContext};
use crate::model::{
    AdvisoriesFrom, Comparison, ConfigView, ConfiguredIsolation, FactsInfo, GuestIntegrity,
    HostView, HypervisorEntry, IntegrityItem, Setting, SinceInfo, VerifiedRootfsInfo,
    COMPARE_SCHEMA,
};
use crate::needs::needs;
use crate::previous::Since;
use crate::record::record;

/// Everything the comparison is computed from.
#[derive(Debug)]
pub struct CompareInput<'a> {
    /// The reviewed facts.
    pub facts: &'a Facts,
    /// The advisories (the store's, or the shipped snapshot).
    pub advisories: &'a [Advisory],
    /// Where they came from (`count` is filled in).
    pub advisories_from: AdvisoriesFrom,
    /// This host.
    pub snapshot: &'a Snapshot,
    /// Accepted risks, for the matcher's severities.
    pub policy: &'a Policy,
    /// Today.
    pub today: Date,
    /// The caller's timestamp for `generated_at`.
    pub generated_at: String,
    /// The earlier review, when given.
    pub since: Option<Since>,
}

/// The comparison.
pub fn compare(input: CompareInput<'_>) -> Comparison {
    let facts = input.facts;
    let matched = match_snapshot(input.snapshot, input.advisories, input.policy, input.today);
    let hypervisors: Vec<HypervisorEntry> = CompareKind::ALL
        .iter()
        .filter_map(|kind| facts.hypervisor(*kind))
        .map(|h| HypervisorEntry {
            kind: h.kind,
            name: h.name.clone(),
            language: h.language.clone(),
            kata: h.kata.clone(),
            features: h.features.clone(),
            isolation: h.isolation.clone(),
            overhead: h.overhead.clone(),
            integrity: h.integrity.clone(),
            advisories: record(
                facts,
                h,
                input.advisories,
                input.today,
                input.since.as_ref(),
            ),
            installed: installed(facts, h.kind, input.snapshot, &matched),
            sources: h
                .source_ids()
                .into_iter()
                .filter_map(|id| facts.source(id).cloned())
                .collect(),
        })
        .collect();
    let host = host_view(facts, input.snapshot, &hypervisors);
    let shared_rust_vmm: BTreeSet<String> = input
        .advisories
        .iter()
        .filter(|a| {
            a.products
                .iter()
                .any(|p| matches!(p.product, Product::RustVmm(_)))
        })
        .map(|a| a.id.clone())
        .collect();
    Comparison {
        schema: COMPARE_SCHEMA,
        generated_at: input.generated_at,
        date: input.today,
        facts: FactsInfo {
            format: facts.format.clone(),
            reviewed: facts.reviewed,
            kata_checked_at: facts.kata_checked_at.clone(),
        },
        advisories_from: AdvisoriesFrom {
            count: input.advisories.len(),
            ..input.advisories_from
        },
        since: input.since.as_ref().map(|s| SinceInfo {
            date: s.date,
            from: s.from.clone(),
            by_advisory_list: s.counted.is_some(),
        }),
        hypervisors,
        host,
        verified_rootfs: VerifiedRootfsInfo {
            rules: facts.verified_rootfs.clone(),
            sources: facts
                .verified_rootfs
                .sources
                .iter()
                .filter_map(|id| facts.source(id).cloned())
                .collect(),
        },
        shared_rust_vmm: shared_rust_vmm.into_iter().collect(),
    }
}

fn host_view(facts: &Facts, snapshot: &Snapshot, entries: &[HypervisorEntry]) -> HostView {
    let sev_snp = sev_snp(snapshot);
    let tdx = tdx(snapshot);
    let context = HostContext {
        kata_release: HostContext::kata_release(snapshot),
        sev_snp: &sev_snp,
        tdx: &tdx,
    };
    let mut configs: Vec<ConfigView> = snapshot
        .kata
        .iter()
        .map(|config| {
            let runtime = match config.runtime {
                KataRuntime::Go => "go",
                KataRuntime::Rs => "rs",
            }
            .to_owned();
            match config_kind(facts, config) {
                Some((kind, section)) => {
                    let needs = needs(config, &section);
                    let isolation = configured(config, kind, &section);
                    let choice = choose(entries, Some(kind), &needs, &isolation);
                    ConfigView {
                        path: config.main.clone(),
                        runtime,
                        runtime_classes: config.runtime_classes.clone(),
                        hypervisor: Some(kind),
                        integrity: guest_integrity(facts, config, kind, &section, context),
                        needs,
                        isolation,
                        choice,
                    }
                }
                None => {
                    let unknown = |what: &str| IntegrityItem {
                        state: "unknown",
                        observed: format!(
                            "no [hypervisor.<name>] section hvguard knows: {what} not judged"
                        ),
                        to_enable: None,
                    };
                    let not_read = || Setting {
                        state: "unknown",
                        evidence: "no [hypervisor.<name>] section hvguard knows".to_owned(),
                    };
                    let isolation = ConfiguredIsolation {
                        seccomp: not_read(),
                        jailer: not_read(),
                    };
                    ConfigView {
                        path: config.main.clone(),
                        runtime,
                        runtime_classes: config.runtime_classes.clone(),
                        hypervisor: None,
                        needs: Vec::new(),
                        integrity: GuestIntegrity {
                            firmware: unknown("firmware"),
                            measured_boot: unknown("measured boot"),
                            verified_rootfs: unknown("verified rootfs"),
                        },
                        choice: choose(entries, None, &[], &isolation),
                        isolation,
                    }
                }
            }
        })
        .collect();
    configs.sort_by(|a, b| a.path.cmp(&b.path));
    HostView {
        hostname: snapshot.host.hostname.value().cloned(),
        kata_release: context.kata_release.map(str::to_owned),
        sev_snp: sev_snp.clone(),
        tdx: tdx.clone(),
        configs,
    }
}
