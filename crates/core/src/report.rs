//! The report: the stable `hvguard.report/v1` JSON contract (DESIGN.md §5).

use crate::{Finding, Hypervisor, RuleId, Severity};
use serde::{Deserialize, Serialize};

pub const REPORT_SCHEMA: &str = "hvguard.report/v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportHost {
    pub hostname: Option<String>,
    pub root: String,
    pub kernel: Option<String>,
    pub os: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub info: usize,
}

impl Summary {
    pub fn of(findings: &[Finding]) -> Summary {
        let mut s = Summary::default();
        for f in findings {
            *s.slot(f.severity) += 1;
        }
        s
    }

    fn slot(&mut self, severity: Severity) -> &mut usize {
        match severity {
            Severity::Critical => &mut self.critical,
            Severity::High => &mut self.high,
            Severity::Medium => &mut self.medium,
            Severity::Low => &mut self.low,
            Severity::Info => &mut self.info,
        }
    }

    pub fn count(&self, severity: Severity) -> usize {
        match severity {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Info => self.info,
        }
    }

    pub fn total(&self) -> usize {
        Severity::DESCENDING.iter().map(|s| self.count(*s)).sum()
    }
}

/// A check that could not decide because a fact it needs is unknown.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UnknownCheck {
    pub rule: RuleId,
    pub reason: String,
    /// For `advisory.vulnerable`: the advisory that could not be judged, structured; `null`
    /// for other rules (report fields are never omitted).
    #[serde(default)]
    pub advisory: Option<UnknownAdvisory>,
}

impl UnknownCheck {
    /// An unknown check of `rule` with a reason and nothing else.
    pub fn new(rule: RuleId, reason: impl Into<String>) -> Self {
        UnknownCheck {
            rule,
            reason: reason.into(),
            advisory: None,
        }
    }
}

/// An advisory the matcher could not judge for some binaries (no range, an unknown version).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UnknownAdvisory {
    /// The advisory id.
    pub id: String,
    /// The product (`qemu`, `firecracker`, `kata-containers`).
    pub product: String,
    /// The distro package owning the binaries, when one does.
    #[serde(default)]
    pub package: Option<String>,
    /// The binaries (or the Kata VERSION file) the verdict is for.
    pub binaries: Vec<std::path::PathBuf>,
    /// Why it could not be decided.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub generated_at: String,
    pub host: ReportHost,
    pub summary: Summary,
    pub findings: Vec<Finding>,
    pub unknown: Vec<UnknownCheck>,
    pub hypervisors: Vec<Hypervisor>,
    /// Drift from the baseline or the previous record, when the scan compared (`--baseline`,
    /// `--record`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<crate::Diff>,
}

impl Report {
    /// Builds a report with findings sorted and the summary computed from them.
    pub fn new(
        generated_at: String,
        host: ReportHost,
        mut findings: Vec<Finding>,
        mut unknown: Vec<UnknownCheck>,
        hypervisors: Vec<Hypervisor>,
    ) -> Report {
        findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        unknown.sort();
        unknown.dedup();
        Report {
            schema: REPORT_SCHEMA.to_string(),
            generated_at,
            host,
            summary: Summary::of(&findings),
            findings,
            unknown,
            hypervisors,
            drift: None,
        }
    }

    /// The most severe finding, if any (drives the exit code).
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}
