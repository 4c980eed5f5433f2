//! Whether a configuration runs the strongest hypervisor that meets its needs, and what would
//! change that conclusion.
//!
//! Candidates are the local hypervisors (not `remote`) that Kata supports in at least one
//! runtime and whose facts say `yes` to every feature the configuration uses. They are ranked,
//! strongest first, by Kata's default isolation and then by the advisory record:
//! 1. seccomp on by default, per-thread filters above one filter for the whole process,
//!    above none;
//! 2. Firecracker's jailer on by default;
//! 3. a record of its own in the advisory data: advisories of its own product. Dragonball's
//!    flaws are published as Kata's, and a product the data holds nothing of (StratoVirt in
//!    the shipped snapshot) is a gap in the data, so an empty record is no evidence and never
//!    wins;
//! 4. fewer VM-escape-class advisories published in the last [`crate::RECENT_YEARS`] years;
//! 5. the fixed order of the comparison, to break ties deterministically.
//!
//! The ranking compares Kata's shipped defaults (what each hypervisor gives unless someone
//! changes it); a configuration that turns a protection off is reported as a reason, not
//! ranked differently.

use crate::facts::{CompareKind, Default, Feature, Support};
use crate::model::{Candidate, Choice, ConfiguredIsolation, HypervisorEntry};
use crate::RECENT_YEARS;

/// The ranking key of one hypervisor (larger is stronger, except the advisory count).
fn standing(entry: &HypervisorEntry) -> Candidate {
    let seccomp = &entry.isolation.seccomp;
    let on = seccomp.support == Some(Support::Yes) && seccomp.default == Some(Default::On);
    let scope = match (on, seccomp.scope.as_deref()) {
        (true, Some("per-thread")) => "per-thread",
        (true, _) => "process",
        (false, _) => "none",
    };
    let jailer = &entry.isolation.jailer;
    Candidate {
        kind: entry.kind,
        seccomp: scope.to_owned(),
        jailer: jailer.support == Some(Support::Yes) && jailer.default == Some(Default::On),
        vm_escape_recent: entry.advisories.vm_escape_recent,
        record_of_its_own: entry.advisories.has_own_product,
    }
}

fn seccomp_rank(scope: &str) -> u8 {
    match scope {
        "per-thread" => 2,
        "process" => 1,
        _ => 0,
    }
}

fn order(entries: &[HypervisorEntry], a: &Candidate, b: &Candidate) -> std::cmp::Ordering {
    let position = |k: CompareKind| entries.iter().position(|e| e.kind == k);
    seccomp_rank(&b.seccomp)
        .cmp(&seccomp_rank(&a.seccomp))
        .then(b.jailer.cmp(&a.jailer))
        .then(b.record_of_its_own.cmp(&a.record_of_its_own))
        .then(a.vm_escape_recent.cmp(&b.vm_escape_recent))
        .then(position(a.kind).cmp(&position(b.kind)))
}

/// Features among `needs` that `entry` does not offer (support not `yes`).
fn missing(entry: &HypervisorEntry, needs: &[Feature]) -> Vec<Feature> {
    needs
        .iter()
        .copied()
        .filter(|f| entry.features.get(*f).supported() != Support::Yes)
        .collect()
}

fn runs_in_kata(entry: &HypervisorEntry) -> bool {
    entry.kata.go.supported() == Support::Yes || entry.kata.rs.supported() == Support::Yes
}

fn names(features: &[Feature]) -> String {
    features
        .iter()
        .map(|f| f.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe(entry: &HypervisorEntry, c: &Candidate) -> String {
    format!(
        "{}: seccomp {}, {}, {} in the last {RECENT_YEARS} years{}",
        entry.name,
        match c.seccomp.as_str() {
            "per-thread" => "per-thread filters on by default",
            "process" => "one process-wide filter on by default",
            _ => "off by default",
        },
        if c.jailer { "jailer on" } else { "no jailer" },
        match c.vm_escape_recent {
            1 => "1 VM-escape-class advisory".to_owned(),
            n => format!("{n} VM-escape-class advisories"),
        },
        if c.record_of_its_own {
            ""
        } else {
            " (the advisory data holds no advisory of its own: no evidence either way)"
        }
    )
}

/// The choice for one configuration running `current` (when known) with `needs`.
pub fn choose(
    entries: &[HypervisorEntry],
    current: Option<CompareKind>,
    needs: &[Feature],
    configured: &ConfiguredIsolation,
) -> Choice {
    let entry_of = |k: CompareKind| entries.iter().find(|e| e.kind == k);
    let mut all: Vec<Candidate> = entries
        .iter()
        .filter(|e| e.kind != CompareKind::Remote && runs_in_kata(e))
        .map(standing)
        .collect();
    all.sort_by(|a, b| order(entries, a, b));
    let candidates: Vec<Candidate> = all
        .iter()
        .filter(|c| entry_of(c.kind).is_some_and(|e| missing(e, needs).is_empty()))
        .cloned()
        .collect();
    let mut reasons = Vec::new();
    let mut would_change = Vec::new();
    let needs_text = if needs.is_empty() {
        "no feature that narrows the choice".to_owned()
    } else {
        names(needs)
    };
    reasons.push(format!(
        "the configuration uses {needs_text}; hypervisors offering all of it: {}",
        if candidates.is_empty() {
            "none".to_owned()
        } else {
            candidates
                .iter()
                .filter_map(|c| entry_of(c.kind).map(|e| e.name.clone()))
                .collect::<Vec<_>>()
                .join(", ")
        }
    ));
    let Some(current) = current else {
        reasons.push("the configuration names no hypervisor hvguard knows".to_owned());
        return Choice {
            candidates,
            strongest: None,
            reasons,
            would_change,
        };
    };
    if current == CompareKind::Remote {
        reasons.push("remote (peer pods) runs the VM on another machine: its isolation is the remote infrastructure's, so it is not ranked against local hypervisors".to_owned());
        return Choice {
            candidates,
            strongest: None,
            reasons,
            would_change,
        };
    }
    let Some(current_entry) = entry_of(current) else {
        return Choice {
            candidates,
            strongest: None,
            reasons,
            would_change,
        };
    };
    let current_standing = standing(current_entry);
    let strongest = candidates.first().map(|best| best.kind == current);
    match candidates
        .first()
        .and_then(|b| entry_of(b.kind).map(|e| (b, e)))
    {
        Some((best, best_entry)) if best.kind == current => {
            reasons.push(format!(
                "{} ranks first: {}",
                best_entry.name,
                describe(best_entry, best)
            ));
        }
        Some((best, best_entry)) => {
            reasons.push(format!(
                "{} ranks above {}: {}; against {}",
                best_entry.name,
                current_entry.name,
                describe(best_entry, best),
                describe(current_entry, &current_standing)
            ));
            would_change.push(format!(
                "moving this configuration to {} (Kata configuration {}) would make it the strongest option for these needs",
                best_entry.name,
                best_entry
                    .kata
                    .go
                    .configs
                    .first()
                    .or(best_entry.kata.rs.configs.first())
                    .map_or("for it", String::as_str)
            ));
        }
        None => reasons.push(format!(
            "no hypervisor's facts say yes to all of {needs_text}; {} is kept as configured",
            current_entry.name
        )),
    }
    if !missing(current_entry, needs).is_empty() {
        reasons.push(format!(
            "the facts do not confirm {} for {}",
            names(&missing(current_entry, needs)),
            current_entry.name
        ));
    }
    // Stronger hypervisors ruled out by the needs: what would let them in.
    for other in &all {
        if order(entries, other, &current_standing) != std::cmp::Ordering::Less
            || other.kind == current
        {
            continue;
        }
        let Some(entry) = entry_of(other.kind) else {
            continue;
        };
        let lacking = missing(entry, needs);
        if lacking.is_empty() {
            continue;
        }
        let unknown: Vec<Feature> = lacking
            .iter()
            .copied()
            .filter(|f| entry.features.get(*f).supported() == Support::Unknown)
            .collect();
        would_change.push(if unknown.is_empty() {
            format!(
                "{} ranks above {} on isolation but lacks {}: it becomes the better choice if the workloads stop needing that",
                entry.name,
                current_entry.name,
                names(&lacking)
            )
        } else {
            format!(
                "{} ranks above {} on isolation; whether it offers {} is unknown to the facts: a source saying yes would make it a candidate",
                entry.name,
                current_entry.name,
                names(&unknown)
            )
        });
    }
    if configured.seccomp.state == "off"
        && current_entry.isolation.seccomp.support == Some(Support::Yes)
        && current != CompareKind::StratoVirt
    {
        reasons.push(format!(
            "seccomp is off in this configuration ({})",
            configured.seccomp.evidence
        ));
        would_change.push(match current {
            CompareKind::Qemu => "setting seccompsandbox = \"on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny\" (the value Kata's template recommends) gives QEMU a process-wide filter".to_owned(),
            _ => format!("removing disable_seccomp = true gives {} its filters back", current_entry.name),
        });
    }
    if current == CompareKind::Firecracker && configured.jailer.state == "off" {
        reasons.push(format!(
            "the jailer is off ({})",
            configured.jailer.evidence
        ));
        would_change.push(
            "setting jailer_path = \"/opt/kata/bin/jailer\" runs Firecracker in its jail"
                .to_owned(),
        );
    }
    if let Some(new) = &current_entry.advisories.new_since {
        let escapes: Vec<&str> = new
            .iter()
            .filter(|a| a.vm_escape)
            .map(|a| a.id.as_str())
            .collect();
        if !escapes.is_empty() {
            would_change.push(format!(
                "new VM-escape-class advisories for {} since the last review: {}; re-rank if another candidate's record stays clean",
                current_entry.name,
                escapes.join(", ")
            ));
        }
    }
    would_change.push(format!(
        "a new VM-escape-class advisory for {} or for a stronger candidate, or a Kata release changing a default above",
        current_entry.name
    ));
    Choice {
        candidates,
        strongest,
        reasons,
        would_change,
    }
}
