//! Pairing the findings of two reports.
//!
//! A finding is the same finding on both sides when rule, file, key and advisory agree; the
//! line is left out because editing a configuration moves lines without changing what a
//! finding is about. Several findings with one identity (the same rule on the same file for
//! different values) are paired by evidence first, then in report order.

use hvguard_core::{Finding, FindingDrift, SeverityChange};
use std::collections::BTreeMap;
use std::path::Path;

type Identity<'a> = (&'a str, Option<&'a Path>, Option<&'a str>, Option<&'a str>);

fn identity(f: &Finding) -> Identity<'_> {
    (
        f.rule.as_str(),
        f.location.as_ref().map(|l| l.path.as_path()),
        f.location.as_ref().and_then(|l| l.key.as_deref()),
        f.advisory.as_ref().map(|a| a.id.as_str()),
    )
}

pub(crate) fn compare(old: &[Finding], new: &[Finding]) -> FindingDrift {
    let mut groups: BTreeMap<Identity<'_>, (Vec<&Finding>, Vec<&Finding>)> = BTreeMap::new();
    for f in old {
        groups.entry(identity(f)).or_default().0.push(f);
    }
    for f in new {
        groups.entry(identity(f)).or_default().1.push(f);
    }
    let mut drift = FindingDrift::default();
    for (_, (mut olds, mut news)) in groups {
        // Exact evidence first, so a re-rated finding is not paired with its neighbour.
        let mut pairs = Vec::new();
        olds.retain(
            |o| match news.iter().position(|n| n.evidence == o.evidence) {
                Some(i) => {
                    pairs.push((*o, news.remove(i)));
                    false
                }
                None => true,
            },
        );
        let leftover = olds.len().min(news.len());
        pairs.extend(olds.drain(..leftover).zip(news.drain(..leftover)));
        for (o, n) in pairs {
            if o.severity != n.severity {
                drift.changed.push(SeverityChange {
                    rule: n.rule.clone(),
                    title: n.title.clone(),
                    location: n.location.clone(),
                    old: o.severity,
                    new: n.severity,
                    finding: n.clone(),
                });
            }
        }
        drift.resolved.extend(olds.into_iter().cloned());
        drift.added.extend(news.into_iter().cloned());
    }
    drift.added.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    drift
        .resolved
        .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    drift
        .changed
        .sort_by(|a, b| a.finding.sort_key().cmp(&b.finding.sort_key()));
    drift
}
