//! Drift between two states of one host: the `hvguard.diff/v1` document. Plain data; the
//! comparison itself lives in `hvguard-drift`.

use crate::{Finding, Location, RuleId, Severity};
use serde::{Deserialize, Serialize};

pub const DIFF_SCHEMA: &str = "hvguard.diff/v1";

/// Which earlier state a drift is measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriftReference {
    /// The approved state (`hvguard baseline set`).
    Baseline,
    /// The record before this one.
    Previous,
    /// A file or record named on the command line.
    Given,
}

impl DriftReference {
    pub fn as_str(self) -> &'static str {
        match self {
            DriftReference::Baseline => "baseline",
            DriftReference::Previous => "previous",
            DriftReference::Given => "given",
        }
    }
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffSide {
    /// What it is, for people: `record 12`, `baseline (record 3)`, a file path.
    pub label: String,
    /// The history record id, when it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<i64>,
    /// When the state was collected or recorded (RFC 3339), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// Whether the side carried a Snapshot (facts) and a Report (findings).
    pub has_facts: bool,
    pub has_findings: bool,
}

/// The counts a dashboard needs: exported as metrics, shown in summaries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftSummary {
    pub findings_added: usize,
    pub findings_resolved: usize,
    pub findings_changed: usize,
    pub facts_changed: usize,
    /// Every change above, added up.
    pub changes: usize,
    /// The most severe change, if any.
    pub worst: Option<Severity>,
}

impl DriftSummary {
    /// True when the drift is at or above `threshold` (drives `diff --fail-on`).
    pub fn reaches(&self, threshold: Severity) -> bool {
        self.worst.is_some_and(|w| w >= threshold)
    }
}

/// A finding present on both sides whose severity changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeverityChange {
    pub rule: RuleId,
    pub title: String,
    #[serde(default)]
    pub location: Option<Location>,
    pub old: Severity,
    pub new: Severity,
    /// The finding as it is now.
    pub finding: Finding,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FindingDrift {
    pub added: Vec<Finding>,
    pub resolved: Vec<Finding>,
    pub changed: Vec<SeverityChange>,
}

/// The kinds of fact a drift compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FactKind {
    HypervisorVersion,
    HypervisorSha256,
    HypervisorPackage,
    KataRelease,
    KernelRelease,
    KernelCmdline,
    KvmDevice,
    KataConfig,
    ContainerdRuntime,
}

impl FactKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FactKind::HypervisorVersion => "hypervisor-version",
            FactKind::HypervisorSha256 => "hypervisor-sha256",
            FactKind::HypervisorPackage => "hypervisor-package",
            FactKind::KataRelease => "kata-release",
            FactKind::KernelRelease => "kernel-release",
            FactKind::KernelCmdline => "kernel-cmdline",
            FactKind::KvmDevice => "kvm-device",
            FactKind::KataConfig => "kata-config",
            FactKind::ContainerdRuntime => "containerd-runtime",
        }
    }
}

/// One fact that differs. `old` is `None` for a fact that appeared, `new` for one that vanished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactChange {
    pub what: FactKind,
    /// Which one: a binary path, `CONFIG-FILE KEY`, a runtime name; empty for host-wide facts.
    pub subject: String,
    pub old: Option<String>,
    pub new: Option<String>,
    /// Where the fact lives now (where it lived, for a fact that vanished).
    #[serde(default)]
    pub location: Option<Location>,
    /// Where it lived before, when that differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_location: Option<Location>,
    /// How much the change matters (drives `--fail-on`).
    pub severity: Severity,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactDrift {
    pub changed: Vec<FactChange>,
}

/// The `hvguard.diff/v1` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diff {
    pub schema: String,
    /// Which earlier state `old` is.
    pub reference: DriftReference,
    pub old: DiffSide,
    pub new: DiffSide,
    pub summary: DriftSummary,
    pub findings: FindingDrift,
    pub facts: FactDrift,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.summary.changes == 0
    }
}
