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

/// A rule: its metadata and its check. Each rule is registered exactly once, in its area's
/// `RULES` list; the catalogue, the evaluation loop and the hardening plan all read those.
#[derive(Debug)]
pub struct Rule {
    pub meta: RuleMeta,
    pub(crate) check: Check,
}

/// How a rule looks at a Snapshot.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Check {
    /// Reads whatever it needs from the whole Snapshot.
    Snapshot(fn(&RuleMeta, &Snapshot, &mut Emitter)),
    /// Reads one merged Kata configuration at a time; its offences carry the fixes the
    /// hardening plan is built from.
    PerConfig(crate::kata::Offences),
}

impl Rule {
    /// A rule that reads one Kata configuration at a time.
    pub(crate) const fn per_config(meta: RuleMeta, offences: crate::kata::Offences) -> Rule {
        Rule {
            meta,
            check: Check::PerConfig(offences),
        }
    }

    /// A rule that reads the whole Snapshot.
    pub(crate) const fn snapshot(
        meta: RuleMeta,
        check: fn(&RuleMeta, &Snapshot, &mut Emitter),
    ) -> Rule {
        Rule {
            meta,
            check: Check::Snapshot(check),
        }
    }

    /// Runs the rule over `snapshot`.
    pub fn run(&self, snapshot: &Snapshot, emitter: &mut Emitter) {
        match self.check {
            Check::Snapshot(check) => check(&self.meta, snapshot, emitter),
            Check::PerConfig(offences) => {
                crate::kata::emit_config_offences(&self.meta, snapshot, emitter, offences)
            }
        }
    }
}

/// Every rule, host rules first, in id order within each area.
pub fn catalogue() -> Vec<&'static Rule> {
    let mut rules: Vec<&'static Rule> = crate::host::RULES
        .iter()
        .chain(crate::kata::RULES.iter())
        .chain(crate::advisory::RULES.iter())
        .chain(crate::hypervisor::RULES.iter())
        .chain(crate::integrity::RULES.iter())
        .collect();
    rules.sort_by_key(|r| r.meta.id);
    rules
}

impl Rule {
    /// The area part of the id (`host`, `kata`, ...).
    pub fn rule_area(&self) -> &'static str {
        self.meta.id.split('.').next().unwrap_or_default()
    }
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
        rule.run(snapshot, &mut emitter);
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
    fn the_catalogue_is_every_area_list_and_nothing_else() {
        let registered = crate::host::RULES.len()
            + crate::kata::RULES.len()
            + crate::advisory::RULES.len()
            + crate::hypervisor::RULES.len()
            + crate::integrity::RULES.len();
        assert_eq!(catalogue().len(), registered);
        for (area, registered_in_area) in [
            ("host", crate::host::RULES.len()),
            ("advisory", crate::advisory::RULES.len()),
            (
                "hypervisor",
                crate::hypervisor::RULES.len() + crate::integrity::RULES.len(),
            ),
        ] {
            let in_catalogue = catalogue().iter().filter(|r| r.rule_area() == area).count();
            assert_eq!(in_catalogue, registered_in_area, "{area}");
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
