//! Drift: what changed between two states of one host.
//!
//! A state is a Snapshot (facts), a Report (findings) or both, as a history record holds them.
//! [`diff`] compares two states and returns the `hvguard.diff/v1` document: findings added,
//! resolved and re-rated, and facts changed (hypervisor versions and hashes, kernel command
//! line, `/dev/kvm`, every effective Kata configuration key, containerd's Kata runtimes).
//!
//! Pure: no I/O, no clock, so a fleet tool can compare states it received from many nodes.

#![forbid(unsafe_code)]

mod facts;
mod findings;

use hvguard_core::{
    Diff, DiffSide, DriftReference, DriftSummary, FactDrift, FindingDrift, Report, Severity,
    Snapshot, DIFF_SCHEMA,
};

/// One side of a comparison.
#[derive(Debug, Clone, Copy)]
pub struct State<'a> {
    /// What it is, for people (`record 12`, a file path).
    pub label: &'a str,
    /// The history record id, when it is one.
    pub record: Option<i64>,
    /// When it was recorded or collected.
    pub at: Option<&'a str>,
    pub snapshot: Option<&'a Snapshot>,
    pub report: Option<&'a Report>,
}

impl<'a> State<'a> {
    /// A state holding both halves, as a history record does.
    pub fn new(label: &'a str, snapshot: Option<&'a Snapshot>, report: Option<&'a Report>) -> Self {
        State {
            label,
            record: None,
            at: snapshot
                .map(|s| s.collected_at.as_str())
                .or(report.map(|r| r.generated_at.as_str())),
            snapshot,
            report,
        }
    }

    fn side(&self) -> DiffSide {
        DiffSide {
            label: self.label.to_string(),
            record: self.record,
            at: self.at.map(str::to_string),
            has_facts: self.snapshot.is_some() || self.report.is_some(),
            has_findings: self.report.is_some(),
        }
    }
}

/// Compares `old` with `new`. Findings are compared when both sides carry a report; facts come
/// from the snapshots, or from the reports' hypervisor lists when a side has no snapshot.
pub fn diff(reference: DriftReference, old: &State<'_>, new: &State<'_>) -> Diff {
    let findings = match (old.report, new.report) {
        (Some(o), Some(n)) => findings::compare(&o.findings, &n.findings),
        _ => FindingDrift::default(),
    };
    let facts = FactDrift {
        changed: facts::compare(&facts::of(old), &facts::of(new)),
    };
    let summary = summarise(&findings, &facts);
    Diff {
        schema: DIFF_SCHEMA.to_string(),
        reference,
        old: old.side(),
        new: new.side(),
        summary,
        findings,
        facts,
    }
}

/// How much a change in findings matters: what is new or worse counts at its severity, what
/// went away or got better counts as `info`.
pub fn finding_drift_severity(findings: &FindingDrift) -> Option<Severity> {
    let added = findings.added.iter().map(|f| f.severity);
    let changed = findings
        .changed
        .iter()
        .map(|c| if c.new > c.old { c.new } else { Severity::Info });
    let resolved = findings.resolved.iter().map(|_| Severity::Info);
    added.chain(changed).chain(resolved).max()
}

fn summarise(findings: &FindingDrift, facts: &FactDrift) -> DriftSummary {
    let worst = finding_drift_severity(findings)
        .into_iter()
        .chain(facts.changed.iter().map(|f| f.severity))
        .max();
    let mut s = DriftSummary {
        findings_added: findings.added.len(),
        findings_resolved: findings.resolved.len(),
        findings_changed: findings.changed.len(),
        facts_changed: facts.changed.len(),
        changes: 0,
        worst,
    };
    s.changes = s.findings_added + s.findings_resolved + s.findings_changed + s.facts_changed;
    s
}
