//! The fleet report: the `hvguard.fleet/v1` JSON contract, which the text and HTML renderers
//! only read. Fields are only ever added within v1.

use std::collections::BTreeMap;
use std::path::PathBuf;

use hvguard_core::{Severity, Summary};
use serde::Serialize;

use crate::input::Problem;

pub const FLEET_SCHEMA: &str = "hvguard.fleet/v1";

/// Everything `hvguard fleet report` tells.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetReport {
    pub schema: String,
    pub generated_at: String,
    /// Reports older than this many hours are named in `problems` and flagged `outdated`.
    pub max_age_hours: u64,
    pub inputs: Inputs,
    /// Distinct nodes with a readable report.
    pub nodes: u64,
    /// Nodes by their worst finding (`none`: no finding at all).
    pub by_severity: BySeverity,
    /// Findings of every node's latest report, by severity.
    pub findings: Summary,
    /// One row per node, worst first.
    pub hosts: Vec<HostRow>,
    /// Open advisories: most urgent (KEV, past SLA, widest) first.
    pub advisories: Vec<AdvisoryRow>,
    /// Which nodes run which hypervisor build.
    pub hypervisor_versions: Vec<VersionRow>,
    /// Nodes with VMM processes still running a replaced binary or library.
    pub stale_processes: Vec<StaleRow>,
    pub updates: Updates,
    /// Checks that could not decide, by the number of nodes they are unknown on.
    pub unknown_checks: Vec<UnknownRow>,
    /// Files not used as they are, and why (sorted by file).
    pub problems: Vec<Problem>,
}

impl FleetReport {
    /// True when at least one file was a usable document (exit 2 otherwise).
    pub fn read_anything(&self) -> bool {
        self.inputs.reports + self.inputs.update_results + self.inputs.update_statuses > 0
    }
}

/// What was read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Inputs {
    /// Files opened.
    pub files: u64,
    /// `hvguard.report/v1` documents used (superseded ones included).
    pub reports: u64,
    pub update_results: u64,
    /// `hvguard.update-status/v1` documents: the only source of SLA (`overdue`) counts.
    pub update_statuses: u64,
    /// Files that could not be used at all.
    pub unusable: u64,
}

/// Nodes by their worst finding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BySeverity {
    pub critical: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
    pub info: u64,
    pub none: u64,
}

impl BySeverity {
    /// Every bucket, worst first, `None` (no finding) last.
    pub const ORDER: [Option<Severity>; 6] = [
        Some(Severity::Critical),
        Some(Severity::High),
        Some(Severity::Medium),
        Some(Severity::Low),
        Some(Severity::Info),
        None,
    ];

    pub fn add(&mut self, worst: Option<Severity>) {
        *self.slot(worst) += 1;
    }

    pub fn count(&self, worst: Option<Severity>) -> u64 {
        match worst {
            Some(Severity::Critical) => self.critical,
            Some(Severity::High) => self.high,
            Some(Severity::Medium) => self.medium,
            Some(Severity::Low) => self.low,
            Some(Severity::Info) => self.info,
            None => self.none,
        }
    }

    fn slot(&mut self, worst: Option<Severity>) -> &mut u64 {
        match worst {
            Some(Severity::Critical) => &mut self.critical,
            Some(Severity::High) => &mut self.high,
            Some(Severity::Medium) => &mut self.medium,
            Some(Severity::Low) => &mut self.low,
            Some(Severity::Info) => &mut self.info,
            None => &mut self.none,
        }
    }
}

/// The name a bucket of [`BySeverity`] has in every output.
pub fn bucket_name(worst: Option<Severity>) -> &'static str {
    worst.map(Severity::as_str).unwrap_or("none")
}

/// One node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostRow {
    pub node: String,
    /// The worst finding's severity; `null` when the node has none.
    pub worst: Option<Severity>,
    pub findings: Summary,
    /// Open advisories.
    pub advisories: u64,
    /// Of them, in CISA KEV.
    pub kev: u64,
    /// Advisories past their SLA (from the node's latest update status, when read).
    pub overdue: u64,
    pub stale_processes: u64,
    /// Checks that could not decide.
    pub unknown: u64,
    /// `kind version`, sorted.
    pub hypervisors: Vec<String>,
    /// The latest update result (`updated`, `rolled-back`, ...), when one was read.
    pub update: Option<String>,
    pub generated_at: String,
    /// The report is older than `max_age_hours`.
    pub outdated: bool,
    pub file: PathBuf,
}

/// One open advisory across the fleet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdvisoryRow {
    pub id: String,
    /// Nodes affected.
    pub nodes: u64,
    /// In CISA KEV on any node's report.
    pub kev: bool,
    /// Nodes on which it is past its SLA.
    pub overdue: u64,
    /// The highest severity any node rated it (`null`: known only from update status).
    pub severity: Option<Severity>,
}

/// One hypervisor build and the nodes that have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionRow {
    pub kind: String,
    /// `null` when the version could not be read.
    pub version: Option<String>,
    pub nodes: u64,
    /// Sorted node names.
    pub hosts: Vec<String>,
}

/// A node with stale VMM processes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaleRow {
    pub node: String,
    pub processes: u64,
}

/// Update outcomes across the fleet (each node's latest result).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Updates {
    /// Nodes per result (`updated`, `nothing-to-do`, `refused`, `rolled-back`, `failed`).
    pub results: BTreeMap<String, u64>,
    /// Nodes whose latest result is refused, rolled back or failed.
    pub attention: Vec<UpdateRow>,
}

/// A node whose update needs a look.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateRow {
    pub node: String,
    pub command: String,
    pub result: String,
    pub dry_run: bool,
    /// The stage that stopped it, and what it said.
    pub stage: Option<String>,
    pub detail: Option<String>,
    pub components: Vec<String>,
    pub generated_at: String,
    pub file: PathBuf,
}

/// A check that could not decide on some nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnknownRow {
    pub rule: String,
    pub nodes: u64,
}
