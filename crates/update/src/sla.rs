//! Remediation deadlines: an open advisory is due its publication date plus the days the
//! policy's `[update] sla_days` allows for the finding's severity. One rule for `hvguard
//! update status` (per component) and for `scan`'s `hvguard_sla_overdue` metric (per host).

use std::collections::BTreeMap;

use hvguard_advisory::policy::UpdatePolicy;
use hvguard_advisory::Advisory;
use hvguard_core::{AdvisoryStatus, Finding, Severity};
use jiff::civil::Date;

/// One open advisory and its deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    pub id: String,
    /// The finding's severity (the worst over the binaries it was found in).
    pub severity: Severity,
    pub published: Date,
    pub due: Date,
    /// Days past `due` (0 while it is not overdue).
    pub days_overdue: i64,
}

impl Deadline {
    pub fn is_overdue(&self) -> bool {
        self.days_overdue > 0
    }
}

/// The open advisories among `findings` (`advisory.vulnerable` findings whose status is
/// vulnerable), one per advisory id, each with the finding of the worst severity.
pub fn worst_per_advisory<'a>(
    findings: impl IntoIterator<Item = &'a Finding>,
) -> BTreeMap<String, &'a Finding> {
    let mut worst: BTreeMap<String, &Finding> = BTreeMap::new();
    for f in findings {
        let Some(a) = &f.advisory else { continue };
        if a.status != AdvisoryStatus::Vulnerable {
            continue;
        }
        let slot = worst.entry(a.id.clone()).or_insert(f);
        if f.severity > slot.severity {
            *slot = f;
        }
    }
    worst
}

/// The deadline of advisory `id`, found as `finding`; `None` for an accepted risk (no SLA
/// while the acceptance holds) and for an advisory the store does not know or that has no
/// publication date.
pub fn deadline(
    id: &str,
    finding: &Finding,
    advisories: &BTreeMap<&str, &Advisory>,
    policy: &UpdatePolicy,
    today: Date,
) -> Option<Deadline> {
    if finding.message.starts_with("Accepted risk") {
        return None;
    }
    let advisory = advisories.get(id)?;
    let published = advisory.published?;
    let due = policy.due(advisory, finding.severity)?;
    let days = today
        .since(due)
        .map(|s| i64::from(s.get_days()))
        .unwrap_or(0);
    Some(Deadline {
        id: id.to_owned(),
        severity: finding.severity,
        published,
        due,
        days_overdue: days.max(0),
    })
}

/// Advisories past their deadline per severity, over every open advisory of `findings` (each
/// counted once, at its worst severity); every severity is present, 0 included.
pub fn overdue_by_severity<'a>(
    findings: impl IntoIterator<Item = &'a Finding>,
    advisories: &[Advisory],
    policy: &UpdatePolicy,
    today: Date,
) -> BTreeMap<Severity, usize> {
    let open = worst_per_advisory(findings);
    let by_id: BTreeMap<&str, &Advisory> = advisories
        .iter()
        .filter(|a| open.contains_key(&a.id))
        .map(|a| (a.id.as_str(), a))
        .collect();
    let mut counts: BTreeMap<Severity, usize> =
        Severity::DESCENDING.iter().map(|s| (*s, 0)).collect();
    for (id, f) in &open {
        if let Some(d) = deadline(id, f, &by_id, policy, today).filter(Deadline::is_overdue) {
            *counts.entry(d.severity).or_default() += 1;
        }
    }
    counts
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use hvguard_core::{AdvisoryRef, RuleId};

    fn finding(id: &str, severity: Severity, status: AdvisoryStatus, message: &str) -> Finding {
        Finding {
            rule: RuleId::new("advisory.vulnerable").unwrap(),
            severity,
            title: id.into(),
            message: message.into(),
            location: None,
            evidence: String::new(),
            remediation: String::new(),
            references: Vec::new(),
            advisory: Some(AdvisoryRef {
                id: id.into(),
                aliases: Vec::new(),
                cvss: None,
                kev: false,
                epss: None,
                fixed_in: None,
                status,
                relevance: String::new(),
                component: String::new(),
                components: Vec::new(),
                binaries: Vec::new(),
            }),
        }
    }

    fn advisory(id: &str, published: Option<&str>) -> Advisory {
        let mut a = Advisory::new(id);
        a.published = published.map(|p| p.parse().unwrap());
        a
    }

    #[test]
    fn overdue_counts_follow_publication_and_sla_days() {
        let today: Date = "2026-01-31".parse().unwrap();
        let policy = UpdatePolicy::default(); // critical 2, high 7, medium 30, low 90 days
        let findings = [
            // Published 2026-01-01, high: due 01-08, 23 days overdue. Found twice, counted once
            // at its worst severity (critical: due 01-03).
            finding("CVE-A", Severity::High, AdvisoryStatus::Vulnerable, "m"),
            finding("CVE-A", Severity::Critical, AdvisoryStatus::Vulnerable, "m"),
            // Medium, published 2026-01-10: due 02-09, not overdue yet.
            finding("CVE-B", Severity::Medium, AdvisoryStatus::Vulnerable, "m"),
            // Low, published 2025-01-01: overdue.
            finding("CVE-C", Severity::Low, AdvisoryStatus::Vulnerable, "m"),
            // An accepted risk, a backported fix, an unknown date, an unknown advisory: no SLA.
            finding(
                "CVE-D",
                Severity::High,
                AdvisoryStatus::Vulnerable,
                "Accepted risk until 2027-01-01: r",
            ),
            finding(
                "CVE-E",
                Severity::High,
                AdvisoryStatus::FixedByBackport,
                "m",
            ),
            finding("CVE-F", Severity::High, AdvisoryStatus::Vulnerable, "m"),
            finding("CVE-G", Severity::High, AdvisoryStatus::Vulnerable, "m"),
        ];
        let advisories = [
            advisory("CVE-A", Some("2026-01-01")),
            advisory("CVE-B", Some("2026-01-10")),
            advisory("CVE-C", Some("2025-01-01")),
            advisory("CVE-D", Some("2020-01-01")),
            advisory("CVE-E", Some("2020-01-01")),
            advisory("CVE-F", None),
        ];
        let counts = overdue_by_severity(&findings, &advisories, &policy, today);
        assert_eq!(counts.len(), 5);
        assert_eq!(counts[&Severity::Critical], 1);
        assert_eq!(counts[&Severity::High], 0);
        assert_eq!(counts[&Severity::Medium], 0);
        assert_eq!(counts[&Severity::Low], 1);
        assert_eq!(counts[&Severity::Info], 0);

        let open = worst_per_advisory(&findings);
        assert!(!open.contains_key("CVE-E"));
        let by_id: BTreeMap<&str, &Advisory> =
            advisories.iter().map(|a| (a.id.as_str(), a)).collect();
        let a = deadline("CVE-A", open["CVE-A"], &by_id, &policy, today).unwrap();
        assert_eq!(a.due.to_string(), "2026-01-03");
        assert_eq!(a.days_overdue, 28);
        let b = deadline("CVE-B", open["CVE-B"], &by_id, &policy, today).unwrap();
        assert!(!b.is_overdue());
        assert_eq!(b.due.to_string(), "2026-02-09");
    }
}
