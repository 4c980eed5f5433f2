//! One advisory from the records several sources hold about it.
//!
//! The store keeps every source's record (docs/advisory-store.md); nothing a feed said is
//! overwritten by a later import. When a scan needs the advisory, the records are merged
//! here, in an order fixed by the records themselves (never by import order), so the same
//! set of imports always gives the same advisory:
//! - every range, named version and fix of every source is kept, each with its source; the
//!   matcher's precedence then decides (distro verdict > package changelog > ranges with a
//!   real fixed version > NVD cut-offs: docs/advisory-matching.md);
//! - descriptive fields (summary, CVSS, kind, components, binaries) come from the most
//!   trusted source that has them: hvguard's snapshot (curated and evidence-reviewed), then
//!   OSV, the CNA's CVE 5 record, NVD, anything else; ties by source name;
//! - lists (aliases, CWEs, references, platforms, device names, fix subjects, distro
//!   verdicts) are unions.

use crate::model::Advisory;

/// Trust rank of a feed's descriptive fields (lower wins).
fn rank(feed: &str) -> u8 {
    match feed {
        "hvguard-snapshot" => 0,
        "osv" => 1,
        "cve5" => 2,
        "nvd" => 3,
        _ => 4,
    }
}

/// Merges the records of one advisory id. `records` holds (source name, record) pairs in
/// any order; `None` when it is empty.
pub fn merge_records(mut records: Vec<(String, Advisory)>) -> Option<Advisory> {
    for (source, adv) in &mut records {
        let label = format!("{} record from source {source}", feed_name(adv));
        adv.label_sources(&label);
        adv.normalize();
    }
    records.sort_by(|(sa, a), (sb, b)| {
        (rank(&a.provenance.feed), sa.as_str(), &a.id).cmp(&(
            rank(&b.provenance.feed),
            sb.as_str(),
            &b.id,
        ))
    });
    let mut records = records.into_iter();
    let (first_source, mut merged) = records.next()?;
    let mut sources = vec![format!("{first_source} ({})", feed_name(&merged))];
    for (source, other) in records {
        sources.push(format!("{source} ({})", feed_name(&other)));
        absorb(&mut merged, other);
    }
    if sources.len() > 1 {
        let list = sources.join(", ");
        merged.provenance.note = Some(match merged.provenance.note.take() {
            Some(note) => format!("{note}; merged from {list}"),
            None => format!("merged from {list}"),
        });
    }
    merged.normalize();
    Some(merged)
}

fn feed_name(adv: &Advisory) -> &str {
    if adv.provenance.feed.is_empty() {
        "unknown feed"
    } else {
        &adv.provenance.feed
    }
}

/// Adds what `other` (a less trusted record of the same advisory) knows to `base`.
fn absorb(base: &mut Advisory, other: Advisory) {
    for entry in other.products {
        match base
            .products
            .iter_mut()
            .find(|p| p.product == entry.product)
        {
            Some(own) => {
                own.ranges.ranges.extend(entry.ranges.ranges);
                own.ranges.versions.extend(entry.ranges.versions);
                own.ranges.fixes.extend(entry.ranges.fixes);
                if own.package.is_none() {
                    own.package = entry.package;
                }
            }
            None => base.products.push(entry),
        }
    }
    base.aliases.extend(other.aliases);
    if other.id != base.id {
        base.aliases.push(other.id);
    }
    base.cwe.extend(other.cwe);
    base.references.extend(other.references);
    base.platforms.extend(other.platforms);
    base.devices.extend(other.devices);
    base.fix_subjects.extend(other.fix_subjects);
    base.distro.extend(other.distro);
    if base.summary.is_none() {
        base.summary = other.summary;
    }
    if base.cvss.v3.is_none() {
        base.cvss.v3 = other.cvss.v3;
    }
    if base.cvss.v4.is_none() {
        base.cvss.v4 = other.cvss.v4;
    }
    if base.kind.is_none() {
        base.kind = other.kind;
    }
    if base.components.is_empty() && base.component.is_none() {
        base.components = other.components;
        base.component = other.component;
    }
    if base.binaries.is_empty() {
        base.binaries = other.binaries;
    }
    if base.hypervisors.is_empty() {
        base.hypervisors = other.hypervisors;
    }
    if base.kev.is_none() {
        base.kev = other.kev;
    }
    if base.epss.is_none() {
        base.epss = other.epss;
    }
    if base.published.is_none() {
        base.published = other.published;
    }
    base.modified = match (base.modified, other.modified) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::model::{AffectedProduct, Event, Product, Range, Ranges};
    use crate::version::VersionScheme;

    fn record(feed: &str, fixed: &str, summary: &str) -> Advisory {
        let mut a = Advisory::new("CVE-2024-1");
        a.provenance.feed = feed.into();
        a.summary = Some(summary.into());
        a.products.push(AffectedProduct {
            product: Product::Qemu,
            package: None,
            ranges: Ranges {
                ranges: vec![Range {
                    scheme: VersionScheme::Upstream,
                    events: vec![Event::Introduced("0".into()), Event::Fixed(fixed.into())],
                    source: None,
                }],
                ..Ranges::default()
            },
        });
        a
    }

    #[test]
    fn every_order_gives_the_same_advisory() {
        let records = [
            ("nvd-dump".to_owned(), record("nvd", "9.1.0", "from NVD")),
            (
                "curated".to_owned(),
                record("hvguard-snapshot", "9.1.0", "curated"),
            ),
            (
                "cvelist".to_owned(),
                record("cve5", "9.0.0", "from the CNA"),
            ),
        ];
        let mut orders = Vec::new();
        for perm in [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ] {
            let input: Vec<_> = perm.iter().map(|&i| records[i].clone()).collect();
            orders.push(merge_records(input).unwrap());
        }
        assert!(orders.windows(2).all(|w| w[0] == w[1]));
        let merged = &orders[0];
        assert_eq!(merged.summary.as_deref(), Some("curated"));
        // Each source's range is kept with its source.
        let sources: Vec<_> = merged.products[0]
            .ranges
            .ranges
            .iter()
            .map(|r| r.source.clone().unwrap())
            .collect();
        assert_eq!(sources.len(), 3, "{sources:?}");
        assert!(sources.iter().any(|s| s.contains("source cvelist")));
        assert!(merged
            .provenance
            .note
            .as_deref()
            .unwrap()
            .contains("merged from curated"));
    }
}
