//! The list of rules and the evaluation loop.

use crate::Emitter;
use hvguard_core::{Finding, RuleId, Severity, Snapshot, UnknownCheck};
use serde::Serialize;

/// What a rule is, independent of any host.
#[derive(Debug, Clone, Serialize)]
pub struct RuleMeta {
    pub id: &'static str,
    pub title: &'static str,
    /// The default severity; some rules raise or lower it with context (RULES.md).
    pub severity: Severity,
    /// When the rule fires, in one sentence.
    pub fires_when: &'static str,
    pub remediation: &'static str,
    pub references: &'static [&'static str],
}

impl RuleMeta {
    /// The typed id. Catalogue ids are checked by a test, so a bad one cannot ship.
    #[allow(clippy::expect_used)] // every catalogue id is checked by `ids_are_valid_and_unique`
    pub fn rule_id(&self) -> RuleId {
        RuleId::new(self.id).expect("catalogue rule ids are valid")
    }
}

/// A rule: its metadata and its check.
#[derive(Debug)]
pub struct Rule {
    pub meta: RuleMeta,
    pub check: fn(&RuleMeta, &Snapshot, &mut Emitter),
}

/// Every rule, host rules first, in id order within each area.
pub fn catalogue() -> Vec<&'static Rule> {
    let mut rules: Vec<&'static Rule> = crate::host::RULES
        .iter()
        .chain(crate::kata::RULES.iter())
        .chain(crate::advisory::RULES.iter())
        .chain(crate::integrity::RULES.iter())
        .collect();
    rules.sort_by_key(|r| r.meta.id);
    rules
}

pub fn find_rule(id: &str) -> Option<&'static Rule> {
    catalogue().into_iter().find(|r| r.meta.id == id)
}

/// The outcome of running the catalogue over one Snapshot.
#[derive(Debug, Default)]
pub struct Evaluation {
    pub findings: Vec<Finding>,
    pub unknown: Vec<UnknownCheck>,
}

/// Runs every rule. Pure: the same Snapshot always gives the same Evaluation.
pub fn evaluate(snapshot: &Snapshot) -> Evaluation {
    let mut emitter = Emitter::default();
    for rule in catalogue() {
        (rule.check)(&rule.meta, snapshot, &mut emitter);
    }
    Evaluation {
        findings: emitter.findings,
        unknown: emitter.unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn ids_are_valid_and_unique() {
        let mut seen = BTreeSet::new();
        for rule in catalogue() {
            assert!(RuleId::new(rule.meta.id).is_ok(), "bad id {}", rule.meta.id);
            assert!(seen.insert(rule.meta.id), "duplicate id {}", rule.meta.id);
            assert!(!rule.meta.title.is_empty() && !rule.meta.remediation.is_empty());
            assert!(
                !rule.meta.references.is_empty(),
                "{} has no references",
                rule.meta.id
            );
        }
    }

    #[test]
    fn every_rule_has_a_doc_page() {
        for rule in catalogue() {
            let page = crate::rule_doc(rule.meta.id)
                .unwrap_or_else(|| panic!("docs/rules/{}.md is missing", rule.meta.id));
            assert!(
                page.contains(rule.meta.id),
                "page of {} does not name it",
                rule.meta.id
            );
        }
    }
}
