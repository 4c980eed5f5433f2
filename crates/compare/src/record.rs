//! A hypervisor's record in the advisory data: counts per year, severity and kind, the
//! VM-escape class, KEV entries, the time to the first fix, and what is new since a review.
//!
//! Which advisories belong to a hypervisor: those naming one of its `advisory_products`
//! (`qemu`, `firecracker`, `cloud-hypervisor`, `stratovirt`), plus Kata Containers advisories
//! whose `hypervisors` scope names it (CVE-2026-24834 exists only with Cloud Hypervisor).
//! rust-vmm crate advisories belong to none (see [`crate::model::Comparison::shared_rust_vmm`]).

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::Date;

use hvguard_advisory::matching::severity::band;
use hvguard_advisory::{Advisory, Product};

use crate::escape::is_vm_escape;
use crate::facts::{Facts, HypervisorFacts};
use crate::fix_time::{days_to_fix, median};
use crate::model::{AdvisoryRecord, NewAdvisory};
use crate::previous::Since;
use crate::RECENT_YEARS;

/// The advisories of `hypervisor`, and for each the product its record counts it under.
pub fn advisories_of<'a>(
    hypervisor: &HypervisorFacts,
    advisories: &'a [Advisory],
) -> Vec<(&'a Advisory, Product)> {
    let binary = hypervisor.kind.binary_kind();
    advisories
        .iter()
        .filter_map(|a| {
            let own = a
                .products
                .iter()
                .map(|p| &p.product)
                .find(|p| hypervisor.advisory_products.contains(&p.name()));
            if let Some(product) = own {
                return Some((a, product.clone()));
            }
            let scoped = binary.is_some_and(|b| a.hypervisors.contains(&b))
                && a.products.iter().any(|p| p.product == Product::Kata);
            scoped.then_some((a, Product::Kata))
        })
        .collect()
}

/// The CVSS band's name, or `unrated`.
pub fn severity_name(advisory: &Advisory) -> String {
    advisory
        .cvss
        .score()
        .map_or_else(|| "unrated".to_owned(), |s| band(s).as_str().to_owned())
}

/// The kind's name, or `unknown`.
pub fn kind_name(advisory: &Advisory) -> String {
    advisory
        .kind
        .and_then(|k| serde_json::to_value(k).ok())
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Computes the record.
pub fn record(
    facts: &Facts,
    hypervisor: &HypervisorFacts,
    advisories: &[Advisory],
    today: Date,
    since: Option<&Since>,
) -> AdvisoryRecord {
    let mine = advisories_of(hypervisor, advisories);
    let mut by_year = BTreeMap::new();
    let mut by_severity = BTreeMap::new();
    let mut by_kind = BTreeMap::new();
    let mut vm_escape_ids = Vec::new();
    let mut vm_escape_recent = 0;
    let mut kev_ids = Vec::new();
    let mut kata_scoped = Vec::new();
    let mut days = Vec::new();
    let recent_from = today
        .checked_sub(jiff::Span::new().years(RECENT_YEARS))
        .unwrap_or(today);
    for (advisory, product) in &mine {
        let year = advisory
            .published
            .map_or_else(|| "unknown".to_owned(), |d| d.year().to_string());
        *by_year.entry(year).or_insert(0) += 1;
        *by_severity.entry(severity_name(advisory)).or_insert(0) += 1;
        *by_kind.entry(kind_name(advisory)).or_insert(0) += 1;
        if is_vm_escape(advisory) {
            vm_escape_ids.push(advisory.id.clone());
            if advisory.published.is_some_and(|d| d > recent_from) {
                vm_escape_recent += 1;
            }
        }
        if advisory.kev.is_some() {
            kev_ids.push(advisory.id.clone());
        }
        if *product == Product::Kata {
            kata_scoped.push(advisory.id.clone());
        }
        if let Some(d) = days_to_fix(facts, advisory, product) {
            days.push(d);
        }
    }
    let mut ids: Vec<String> = mine.iter().map(|(a, _)| a.id.clone()).collect();
    ids.sort();
    vm_escape_ids.sort();
    kev_ids.sort();
    kata_scoped.sort();
    let samples = days.len();
    AdvisoryRecord {
        coverage: coverage(hypervisor),
        // A product the data holds no advisory of (StratoVirt in the shipped snapshot) is a gap
        // in the data, not a clean record: only advisories actually present make one.
        has_own_product: mine.iter().any(|(_, product)| *product != Product::Kata),
        total: mine.len(),
        by_year,
        by_severity,
        by_kind,
        vm_escape: vm_escape_ids.len(),
        vm_escape_ids,
        vm_escape_recent,
        kev: kev_ids.len(),
        kev_ids,
        median_days_to_fix: median(&mut days),
        days_to_fix_samples: samples,
        kata_scoped,
        new_since: since.map(|s| new_since(hypervisor, &mine, s)),
        ids,
    }
}

fn coverage(hypervisor: &HypervisorFacts) -> String {
    if let Some(note) = &hypervisor.advisory_note {
        return note.clone();
    }
    format!(
        "advisories naming {}, and Kata Containers advisories scoped to {} sandboxes",
        hypervisor.advisory_products.join(", "),
        hypervisor.name
    )
}

/// Advisories new since the review: not in the previous document's list for this hypervisor,
/// or, when only a date is known, published after it.
fn new_since(
    hypervisor: &HypervisorFacts,
    mine: &[(&Advisory, Product)],
    since: &Since,
) -> Vec<NewAdvisory> {
    let listed: Option<&BTreeSet<String>> = since
        .counted
        .as_ref()
        .map(|c| c.get(&hypervisor.kind).unwrap_or(&EMPTY));
    let mut fresh: Vec<NewAdvisory> = mine
        .iter()
        .map(|(a, _)| *a)
        .filter(|a| match listed {
            Some(ids) => !ids.contains(&a.id),
            None => a.published.is_some_and(|d| d > since.date),
        })
        .map(|a| NewAdvisory {
            id: a.id.clone(),
            published: a.published,
            severity: severity_name(a),
            kind: kind_name(a),
            vm_escape: is_vm_escape(a),
            kev: a.kev.is_some(),
            summary: a.summary.clone(),
        })
        .collect();
    fresh.sort_by(|a, b| (a.published, &a.id).cmp(&(b.published, &b.id)));
    fresh
}

static EMPTY: BTreeSet<String> = BTreeSet::new();
