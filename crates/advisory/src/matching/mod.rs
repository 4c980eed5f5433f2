//! The advisory matcher: Snapshot + advisories + policy in, `advisory.vulnerable` findings
//! and one recorded decision per (advisory, binary) out. Pure: no I/O, no clock.
//!
//! Decision order (DESIGN.md §7, docs/advisory-matching.md): the advisory's platform, then
//! the binary's contents (device type names), then for a packaged binary the distro tracker
//! and the package changelog, and only when those are silent the upstream data, with the
//! evidence saying so. A binary no package owns (a static QEMU, Firecracker or Cloud
//! Hypervisor under `/opt/kata/bin`) and the Kata release itself are judged by upstream
//! data. Only a `vulnerable` decision produces a finding, one per (advisory, package) for a
//! package's binaries; `unknown` is recorded and reported as an unknown check, never a
//! finding and never a pass.

mod decide;
mod distro;
mod finding;
mod remedy;
pub mod severity;
pub mod target;
mod upstream;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use hvguard_core::{Finding, RuleId, Snapshot};
use jiff::civil::Date;
use serde::Serialize;

use crate::policy::Policy;
use crate::relevance::{ReachModel, Relevance};
use crate::{Advisory, DistroStatus};
pub use decide::{decide, device_names, Prepared};
pub use distro::{Distro, PackageFacts};
pub use target::{concerned_binaries, concerns, targets, Target};

/// The rule every advisory finding carries.
pub const RULE_ID: &str = "advisory.vulnerable";

/// The verdict for one (advisory, binary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DecisionStatus {
    /// Inside an affected range with no fix applied: a finding.
    Vulnerable,
    /// The distro shipped the fix in the installed package (tracker or changelog).
    FixedByBackport,
    /// Outside every affected range, or never affected per the distro.
    NotAffected,
    /// Nothing decided: no range, no version, nothing comparable.
    Unknown,
}

impl DecisionStatus {
    /// The status as reports write it.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionStatus::Vulnerable => "vulnerable",
            DecisionStatus::FixedByBackport => "fixed-by-backport",
            DecisionStatus::NotAffected => "not-affected",
            DecisionStatus::Unknown => "unknown",
        }
    }
}

/// The data that decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DecisionSource {
    /// A distro security tracker's verdict for the host's release.
    DistroTracker {
        /// `debian`, ...
        distro: String,
        /// The release codename or number.
        release: String,
        /// The source package.
        package: String,
        /// The tracker's status.
        status: DistroStatus,
        /// The tracker's fixed version.
        fixed_version: Option<String>,
    },
    /// The advisory is limited to another operating system.
    Platform {
        /// The platforms it is limited to.
        platforms: Vec<String>,
    },
    /// The binary does not register the vulnerable device's QEMU type names.
    BinaryContents {
        /// The type names looked for and not found.
        missing: Vec<String>,
        /// Where the names were read.
        read_from: String,
    },
    /// An entry of the package changelog listing the fix commit's subject.
    ChangelogSubject {
        /// The package whose changelog was read.
        package: String,
        /// The entry's version.
        version: String,
        /// The item's line in the decompressed changelog.
        line: u32,
        /// The item as the changelog writes it.
        subject: String,
    },
    /// An entry of a package changelog naming the advisory: the installed package's (a
    /// backport, or a `Reopens:`), or the one of the version the package manager offers
    /// (evidence `hvguard update status` recorded; then `fixed_in` is that version).
    Changelog {
        /// The package whose changelog was read.
        package: String,
        /// The entry's version.
        version: String,
        /// The entry header's line in the decompressed changelog.
        line: u32,
    },
    /// An upstream affected range.
    UpstreamRange {
        /// The range's events, as text.
        events: String,
        /// Where the binary's upstream version came from.
        version_from: String,
    },
    /// Nothing decided.
    None,
}

impl fmt::Display for DecisionSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecisionSource::DistroTracker {
                distro,
                release,
                fixed_version,
                status,
                ..
            } => match fixed_version {
                Some(v) => write!(
                    f,
                    "{distro}-tracker fixed_version {v} for release {release}"
                ),
                None => write!(
                    f,
                    "{distro}-tracker status {status:?} for release {release}"
                ),
            },
            DecisionSource::Changelog { version, line, .. } => {
                write!(f, "changelog entry {version} line {line}")
            }
            DecisionSource::ChangelogSubject { version, line, .. } => {
                write!(f, "changelog entry {version} fix commit at line {line}")
            }
            DecisionSource::Platform { platforms } => {
                write!(f, "platform ({})", platforms.join(", "))
            }
            DecisionSource::BinaryContents { read_from, .. } => {
                write!(f, "device type names ({read_from})")
            }
            DecisionSource::UpstreamRange {
                events,
                version_from,
            } => write!(f, "upstream range {events} (version from {version_from})"),
            DecisionSource::None => f.write_str("nothing decided"),
        }
    }
}

/// One (advisory, binary) the matcher considered, and what it concluded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The advisory id.
    pub advisory: String,
    /// The binary (or the Kata install's VERSION file).
    pub binary: PathBuf,
    /// The product name (`qemu`, `firecracker`, ...).
    pub product: String,
    /// The installed version(s) judged.
    pub installed: String,
    /// The verdict.
    pub status: DecisionStatus,
    /// What decided.
    pub source: DecisionSource,
    /// Human-readable evidence: versions compared and the data that decided.
    pub evidence: String,
    /// The version carrying the fix, when known.
    pub fixed_in: Option<String>,
    /// The distro package owning the binary, when one does.
    pub package: Option<String>,
    /// What to do (vulnerable and unknown decisions): for a package, what the distro offers.
    pub remediation: String,
}

/// Everything one matching run produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MatchOutcome {
    /// One `advisory.vulnerable` finding per vulnerable (advisory, package), or per
    /// (advisory, binary) for a binary no package owns.
    pub findings: Vec<Finding>,
    /// Every decision, sorted by binary then advisory id.
    pub decisions: Vec<Decision>,
    /// Facts matching needed but could not read (the package database, the OS release):
    /// every decision they feed is less certain, so each is listed as an unknown check.
    pub unknown_facts: Vec<String>,
}

/// Decisions of one advisory sharing a verdict across the binaries of one package (or one
/// binary no package owns).
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionGroup<'a> {
    /// The advisory id.
    pub advisory: &'a str,
    /// The owning package, when one does.
    pub package: Option<&'a str>,
    /// The verdict they share.
    pub status: DecisionStatus,
    /// The decisions, sorted by binary.
    pub decisions: Vec<&'a Decision>,
}

impl DecisionGroup<'_> {
    /// The binaries, sorted.
    pub fn binaries(&self) -> Vec<PathBuf> {
        self.decisions.iter().map(|d| d.binary.clone()).collect()
    }
}

/// Groups decisions by (advisory, package or binary, status), in a stable order.
pub fn group_decisions<'a>(
    decisions: impl Iterator<Item = &'a Decision>,
) -> Vec<DecisionGroup<'a>> {
    let mut groups: BTreeMap<(&'a str, String, DecisionStatus), DecisionGroup<'a>> =
        BTreeMap::new();
    for d in decisions {
        let owner = d
            .package
            .clone()
            .unwrap_or_else(|| d.binary.display().to_string());
        groups
            .entry((d.advisory.as_str(), owner, d.status))
            .or_insert_with(|| DecisionGroup {
                advisory: &d.advisory,
                package: d.package.as_deref(),
                status: d.status,
                decisions: Vec::new(),
            })
            .decisions
            .push(d);
    }
    let mut out: Vec<DecisionGroup<'a>> = groups.into_values().collect();
    for g in &mut out {
        g.decisions.sort_by(|a, b| a.binary.cmp(&b.binary));
    }
    out
}

impl MatchOutcome {
    /// How many decisions ended in each status.
    pub fn counts(&self) -> BTreeMap<DecisionStatus, usize> {
        let mut out = BTreeMap::new();
        for d in &self.decisions {
            *out.entry(d.status).or_insert(0) += 1;
        }
        out
    }

    /// The decisions that could not decide: listed as unknown checks, never as passes.
    pub fn unknown(&self) -> impl Iterator<Item = &Decision> {
        self.decisions
            .iter()
            .filter(|d| d.status == DecisionStatus::Unknown)
    }

    /// The unknown decisions grouped per (advisory, package): one unknown check each.
    pub fn unknown_groups(&self) -> Vec<DecisionGroup<'_>> {
        group_decisions(self.unknown())
    }

    /// One unknown check per (advisory, package), with the structured advisory object.
    pub fn unknown_checks(&self) -> Vec<hvguard_core::UnknownCheck> {
        let Ok(rule) = RuleId::new(RULE_ID) else {
            return Vec::new();
        };
        self.unknown_groups()
            .into_iter()
            .filter_map(|g| {
                let first = g.decisions.first()?;
                let binaries = g.binaries();
                let on = match g.package {
                    Some(p) => format!("{p} ({} binaries)", binaries.len()),
                    None => first.binary.display().to_string(),
                };
                let on = if binaries.len() == 1 {
                    first.binary.display().to_string()
                } else {
                    on
                };
                Some(hvguard_core::UnknownCheck {
                    rule: rule.clone(),
                    reason: format!("{} on {on}: {}", g.advisory, first.evidence),
                    advisory: Some(hvguard_core::UnknownAdvisory {
                        id: g.advisory.to_owned(),
                        product: first.product.clone(),
                        package: g.package.map(str::to_owned),
                        binaries,
                        reason: first.evidence.clone(),
                    }),
                })
            })
            .collect()
    }
}

/// Matches every advisory against every hypervisor binary (and the Kata install) of
/// `snapshot`, applying `policy` as of `today`.
pub fn match_snapshot(
    snapshot: &Snapshot,
    advisories: &[Advisory],
    policy: &Policy,
    today: Date,
) -> MatchOutcome {
    let distro = Distro::of(snapshot);
    let reach = ReachModel::from_snapshot(snapshot);
    let mut packages = BTreeMap::new();
    let prepared: Vec<Prepared<'_>> = targets(snapshot)
        .into_iter()
        .map(|t| Prepared::new(snapshot, t, &mut packages))
        .collect();
    let mut outcome = MatchOutcome {
        unknown_facts: unknown_facts(snapshot),
        ..MatchOutcome::default()
    };
    // Relevance per vulnerable (advisory, binary), for the grouped findings below.
    let mut relevances: BTreeMap<(String, PathBuf), Relevance> = BTreeMap::new();
    for target in &prepared {
        for advisory in advisories {
            let Some(decision) = decide(advisory, target, &distro) else {
                continue;
            };
            if decision.status == DecisionStatus::Vulnerable {
                let relevance =
                    reach.assess(&target.target.product, target.target.used_by, advisory);
                relevances.insert((advisory.id.clone(), decision.binary.clone()), relevance);
            }
            outcome.decisions.push(decision);
        }
    }
    outcome
        .decisions
        .sort_by(|a, b| (&a.binary, &a.advisory).cmp(&(&b.binary, &b.advisory)));
    if let Ok(rule) = RuleId::new(RULE_ID) {
        let by_id: BTreeMap<&str, &Advisory> =
            advisories.iter().map(|a| (a.id.as_str(), a)).collect();
        let vulnerable = outcome
            .decisions
            .iter()
            .filter(|d| d.status == DecisionStatus::Vulnerable);
        for group in group_decisions(vulnerable) {
            let Some(advisory) = by_id.get(group.advisory) else {
                continue;
            };
            let rated: Vec<(&Decision, &Relevance)> = group
                .decisions
                .iter()
                .filter_map(|d| {
                    relevances
                        .get(&(d.advisory.clone(), d.binary.clone()))
                        .map(|r| (*d, r))
                })
                .collect();
            if let Some(f) = finding::build(rule.clone(), advisory, &rated, policy, today) {
                outcome.findings.push(f);
            }
        }
    }
    outcome.findings.sort_by(|a, b| {
        let key = |f: &Finding| {
            (
                f.location.as_ref().map(|l| l.path.clone()),
                f.advisory.as_ref().map(|a| a.id.clone()),
            )
        };
        key(a).cmp(&key(b))
    });
    outcome
}

/// The facts decisions lean on that the Snapshot holds as unknown, phrased for the report.
fn unknown_facts(snapshot: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    if snapshot.hypervisors.is_empty() {
        return out;
    }
    let packages = &snapshot.packages;
    if !packages.is_absent() {
        if let Some(why) = packages.unknown_reason() {
            out.push(format!(
                "the package database could not be read ({why}): distro fixes and changelog backports were not considered, every binary is judged by upstream ranges"
            ));
        }
    }
    let packaged = snapshot.hypervisors.iter().any(|h| h.package.is_some());
    if packaged {
        if let Some(why) = snapshot.host.os.unknown_reason() {
            out.push(format!(
                "the OS release is unknown ({why}): distro security trackers were not consulted for packaged binaries"
            ));
        }
    }
    out
}
