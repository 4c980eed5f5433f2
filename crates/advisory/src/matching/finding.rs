//! Turns a vulnerable decision into an `advisory.vulnerable` finding.

use hvguard_core::{AdvisoryRef, AdvisoryStatus, Finding, Location, RuleId};

use super::severity::rate;
use super::{Decision, DecisionSource};
use crate::policy::Verdict;
use crate::relevance::Relevance;
use crate::Advisory;

fn remediation(advisory: &Advisory, decision: &Decision) -> String {
    match (&decision.source, &decision.fixed_in) {
        (DecisionSource::DistroTracker { distro, package, .. }, Some(v)) => format!(
            "Upgrade the {package} packages to {v} or later from the {distro} security archive."
        ),
        (DecisionSource::DistroTracker { distro, package, .. }, None) => format!(
            "{distro} has no fix for {package} yet: follow the tracker for {}, and limit exposure of the component meanwhile.",
            advisory.id
        ),
        (DecisionSource::Changelog { .. }, Some(v)) => format!(
            "Upgrade the packages built from {} to {v} or later: the package manager already offers it (`hvguard update status`, then `hvguard update apply`).",
            decision.product
        ),
        (_, Some(v)) => format!(
            "Upgrade {} to {v} or later (for a static Kata install: a Kata release bundling a fixed version).",
            decision.product
        ),
        (_, None) => format!(
            "No fixed {} release is known for this range: upgrade to the newest release and limit exposure of the component.",
            decision.product
        ),
    }
}

/// The finding for one vulnerable (advisory, binary).
pub fn build(
    rule: RuleId,
    advisory: &Advisory,
    decision: &Decision,
    relevance: &Relevance,
    verdict: Option<Verdict<'_>>,
) -> Finding {
    let rating = rate(advisory, relevance, verdict);
    let component = advisory
        .component
        .clone()
        .unwrap_or_else(|| "unknown".into());
    let summary = advisory
        .summary
        .clone()
        .unwrap_or_else(|| "no summary published".into());
    let mut message = format!(
        "{} {} is affected by {}: {summary} Relevance: {}. Severity: {}.",
        decision.product,
        decision.installed,
        advisory.id,
        relevance.describe(),
        rating.notes.join("; ")
    );
    if let Some(Verdict::Accepted(a)) = verdict {
        message = format!("Accepted risk: {}. {message}", a.reason);
    }
    Finding {
        rule,
        severity: rating.severity,
        title: format!(
            "{} {} is vulnerable to {} ({component})",
            decision.product,
            decision.installed.split(' ').next().unwrap_or(""),
            advisory.id
        ),
        message,
        location: Some(Location {
            path: decision.binary.clone(),
            line: None,
            key: None,
        }),
        evidence: match decision.source {
            // The range evidence already names the range and the version's origin.
            DecisionSource::UpstreamRange { .. } | DecisionSource::None => {
                decision.evidence.clone()
            }
            _ => format!("{} (decided by {})", decision.evidence, decision.source),
        },
        remediation: remediation(advisory, decision),
        references: advisory.references.clone(),
        advisory: Some(AdvisoryRef {
            id: advisory.id.clone(),
            aliases: advisory.aliases.clone(),
            cvss: advisory.cvss.score(),
            kev: advisory.kev.is_some(),
            epss: advisory.epss.map(|e| e.epss),
            fixed_in: decision.fixed_in.clone(),
            status: AdvisoryStatus::Vulnerable,
            relevance: relevance.describe(),
            component,
        }),
    }
}
