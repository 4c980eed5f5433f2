//! A finding: one rule firing on one (file, section, key) or one host fact.

use crate::{RuleId, Severity};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Location {
    pub path: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: RuleId,
    pub severity: Severity,
    pub title: String,
    pub message: String,
    pub location: Option<Location>,
    pub evidence: String,
    pub remediation: String,
    pub references: Vec<String>,
    pub advisory: Option<AdvisoryRef>,
}

impl Finding {
    /// Report order: most severe first, then rule id, then location.
    pub fn sort_key(&self) -> (std::cmp::Reverse<Severity>, &str, Option<&Location>, &str) {
        (
            std::cmp::Reverse(self.severity),
            self.rule.as_str(),
            self.location.as_ref(),
            self.evidence.as_str(),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdvisoryStatus {
    Vulnerable,
    FixedByBackport,
    NotAffected,
}

/// The advisory behind an `advisory.vulnerable` finding (DESIGN.md §5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdvisoryRef {
    pub id: String,
    pub aliases: Vec<String>,
    pub cvss: Option<f64>,
    pub kev: bool,
    pub epss: Option<f64>,
    pub fixed_in: Option<String>,
    pub status: AdvisoryStatus,
    pub relevance: String,
    pub component: String,
    /// Every component the advisory names (`component` is the first).
    #[serde(default)]
    pub components: Vec<String>,
    /// Every binary of the package with this verdict (the location names the first).
    #[serde(default)]
    pub binaries: Vec<std::path::PathBuf>,
}
