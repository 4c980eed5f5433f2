//! Where rules put what they find.

use crate::RuleMeta;
use hvguard_core::{Finding, Location, RuleId, Severity, UnknownCheck};

/// Collects the findings and unknown checks of one evaluation.
#[derive(Debug, Default)]
pub struct Emitter {
    pub(crate) findings: Vec<Finding>,
    pub(crate) unknown: Vec<UnknownCheck>,
}

/// One finding under construction: rule metadata fills title, remediation and references.
#[derive(Debug)]
pub struct Hit {
    pub severity: Severity,
    pub message: String,
    pub location: Option<Location>,
    pub evidence: String,
}

impl Hit {
    pub fn new(severity: Severity, message: impl Into<String>, evidence: impl Into<String>) -> Hit {
        Hit {
            severity,
            message: message.into(),
            location: None,
            evidence: evidence.into(),
        }
    }

    pub fn at(mut self, location: Location) -> Hit {
        self.location = Some(location);
        self
    }
}

impl Emitter {
    pub fn finding(&mut self, meta: &RuleMeta, hit: Hit) {
        self.findings.push(Finding {
            rule: meta.rule_id(),
            severity: hit.severity,
            title: meta.title.to_string(),
            message: hit.message,
            location: hit.location,
            evidence: hit.evidence,
            remediation: meta.remediation.to_string(),
            references: meta.references.iter().map(|r| r.to_string()).collect(),
            advisory: None,
        });
    }

    /// Records that `meta`'s check could not decide, and why.
    pub fn unknown(&mut self, meta: &RuleMeta, reason: impl Into<String>) {
        self.unknown
            .push(UnknownCheck::new(meta.rule_id(), reason.into()));
    }

    /// For findings produced outside the catalogue (the advisory matcher).
    pub fn push_finding(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    pub fn push_unknown(&mut self, rule: RuleId, reason: impl Into<String>) {
        self.unknown.push(UnknownCheck::new(rule, reason.into()));
    }
}
