//! Turns the vulnerable decisions of one advisory for one package (or one unowned binary)
//! into a single `advisory.vulnerable` finding.

use hvguard_core::{AdvisoryRef, AdvisoryStatus, Finding, Location, RuleId};
use jiff::civil::Date;

use super::severity::{rate, Rating};
use super::{Decision, DecisionSource};
use crate::policy::{Policy, Verdict};
use crate::relevance::Relevance;
use crate::Advisory;

/// The finding for the vulnerable decisions `rated` (one advisory, one package or binary,
/// each decision with its relevance). The most severe rating across the binaries decides
/// the severity: one reachable binary is enough.
pub fn build(
    rule: RuleId,
    advisory: &Advisory,
    rated: &[(&Decision, &Relevance)],
    policy: &Policy,
    today: Date,
) -> Option<Finding> {
    let mut best: Option<(&Decision, &Relevance, Rating, Option<Verdict<'_>>)> = None;
    for (decision, relevance) in rated {
        let verdict = policy.verdict(advisory, &decision.binary, today);
        let rating = rate(advisory, relevance, verdict);
        if best
            .as_ref()
            .is_none_or(|(_, _, r, _)| rating.severity > r.severity)
        {
            best = Some((decision, relevance, rating, verdict));
        }
    }
    let (decision, relevance, rating, verdict) = best?;
    let binaries: Vec<std::path::PathBuf> = rated.iter().map(|(d, _)| d.binary.clone()).collect();
    let first = binaries.first()?.clone();
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
    if binaries.len() > 1 {
        let list: Vec<String> = binaries.iter().map(|b| b.display().to_string()).collect();
        message.push_str(&format!(
            " Same verdict for the {} binaries of {}: {}.",
            binaries.len(),
            decision.package.as_deref().unwrap_or("this package"),
            list.join(", ")
        ));
    }
    if let Some(Verdict::Accepted(a)) = verdict {
        message = format!("Accepted risk: {}. {message}", a.reason);
    }
    Some(Finding {
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
            path: first,
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
        remediation: decision.remediation.clone(),
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
            components: advisory.component_list().map(str::to_owned).collect(),
            binaries,
        }),
    })
}
