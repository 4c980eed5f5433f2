//! The advisory matcher: Snapshot + advisories + policy in, `advisory.vulnerable` findings
//! and one recorded decision per (advisory, binary) out. Pure: no I/O, no clock.
//!
//! Decision order (DESIGN.md §7): a packaged binary is judged by the distro tracker for the
//! host's release and by the package changelog; only when both are silent does the upstream
//! range decide, and the evidence says so. A binary no package owns (a static QEMU,
//! Firecracker or Cloud Hypervisor under `/opt/kata/bin`) and the Kata release itself are
//! judged by upstream ranges. Only a `vulnerable` decision produces a finding; `unknown`
//! is recorded and counted, never a finding and never a pass.

mod decide;
mod finding;
pub mod severity;
pub mod target;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use hvguard_core::{Finding, RuleId, Snapshot};
use jiff::civil::Date;
use serde::Serialize;

use crate::policy::Policy;
use crate::relevance::ReachModel;
use crate::{Advisory, DistroStatus};
pub use decide::{decide, Distro, PackageFacts, Prepared};
pub use target::{targets, ComponentFilter, Target};

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
    /// An entry of the package changelog naming the advisory.
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
}

/// Everything one matching run produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MatchOutcome {
    /// One `advisory.vulnerable` finding per vulnerable (advisory, binary).
    pub findings: Vec<Finding>,
    /// Every decision, sorted by binary then advisory id.
    pub decisions: Vec<Decision>,
    /// Facts matching needed but could not read (the package database, the OS release):
    /// every decision they feed is less certain, so each is listed as an unknown check.
    pub unknown_facts: Vec<String>,
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
    let prepared: Vec<Prepared<'_>> = targets(snapshot)
        .into_iter()
        .map(|t| Prepared::new(snapshot, t))
        .collect();
    let rule = RuleId::new(RULE_ID);
    let mut outcome = MatchOutcome {
        unknown_facts: unknown_facts(snapshot),
        ..MatchOutcome::default()
    };
    for target in &prepared {
        for advisory in advisories {
            let Some(decision) = decide(advisory, target, &distro) else {
                continue;
            };
            if decision.status == DecisionStatus::Vulnerable {
                if let Ok(rule) = &rule {
                    let relevance = reach.assess(
                        &target.target.product,
                        target.target.used_by,
                        advisory.component.as_deref(),
                        advisory.kind,
                    );
                    let verdict = policy.verdict(advisory, target.target.path, today);
                    outcome.findings.push(finding::build(
                        rule.clone(),
                        advisory,
                        &decision,
                        &relevance,
                        verdict,
                    ));
                }
            }
            outcome.decisions.push(decision);
        }
    }
    outcome
        .decisions
        .sort_by(|a, b| (&a.binary, &a.advisory).cmp(&(&b.binary, &b.advisory)));
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
