//! The report as Prometheus metrics, in the text exposition format (version 0.0.4) that
//! node_exporter's textfile collector reads and `promtool check metrics` checks.
//!
//! Every family is a gauge: each value describes the last scan, nothing accumulates across
//! scans. Samples carry no timestamp (the textfile collector refuses them); the scan time is a
//! metric of its own, `hvguard_scan_timestamp_seconds`. The counting is the core's
//! ([`ReportTally`]); this module only writes it out.

use crate::exposition::{Exposition, Family};
use hvguard_core::{Report, ReportTally, Severity};
use std::collections::BTreeMap;

/// Names the format of what [`render_prometheus`] writes (a comment line at the top).
pub const METRICS_SCHEMA: &str = "hvguard.metrics/v1";

/// What the metrics need besides the report. The optional sections come from other parts of
/// hvguard; a family whose section is `None` is left out entirely (not written as zero), so
/// that "no data" and "nothing to report" stay distinguishable in PromQL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsInput {
    /// hvguard's own version (`hvguard_build_info`).
    pub hvguard_version: String,
    /// Kata/containerd configuration files that exist but could not be loaded: the report
    /// covers everything else, and the scan exits 2.
    pub input_errors: usize,
    /// The scheduling gate published as the `hvguard-kata-ready` node label, when decided.
    pub kata_ready: Option<bool>,
    /// Drift from the previous recorded scan. Source: the history store (`scan --record`
    /// diffs the new record against the one before it).
    pub drift_since_previous: Option<DriftCounts>,
    /// Drift from the approved baseline. Source: `scan --baseline` (`hvguard baseline set`).
    pub drift_since_baseline: Option<DriftCounts>,
    /// The last finished `hvguard update apply` transaction (packaged or static Kata).
    /// Source: the update journal in the store.
    pub last_update: Option<UpdateSummary>,
    /// Remediation deadlines of the scan's open advisories (publication date plus the
    /// policy's `[update] sla_days`, the rule `hvguard update status` applies).
    pub sla: Option<SlaCounts>,
}

/// What changed between two scans (the `hvguard.diff/v1` counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriftCounts {
    pub findings_added: usize,
    pub findings_resolved: usize,
    pub findings_severity_changed: usize,
    /// Facts changed: versions and hashes, kernel command line, `/dev/kvm` mode, Kata keys,
    /// containerd runtime entries.
    pub facts_changed: usize,
}

/// How the last update transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum UpdateResult {
    Succeeded,
    Failed,
    RolledBack,
    /// Refused before anything changed (the boot gate, the maintenance window, preflight).
    Refused,
}

impl UpdateResult {
    pub const ALL: [UpdateResult; 4] = [
        UpdateResult::Succeeded,
        UpdateResult::Failed,
        UpdateResult::RolledBack,
        UpdateResult::Refused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UpdateResult::Succeeded => "succeeded",
            UpdateResult::Failed => "failed",
            UpdateResult::RolledBack => "rolled_back",
            UpdateResult::Refused => "refused",
        }
    }
}

/// The last update transaction, as the journal recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdateSummary {
    pub result: UpdateResult,
    /// When it finished, in seconds since the Unix epoch.
    pub finished_at_unix: i64,
}

/// Open advisories whose remediation deadline has passed, per severity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlaCounts {
    pub overdue: BTreeMap<Severity, usize>,
}

const BUILD_INFO: Family<1> = Family {
    name: "hvguard_build_info",
    help: "hvguard's version; always 1.",
    labels: ["version"],
};
const SCAN_TIMESTAMP: Family<0> = Family {
    name: "hvguard_scan_timestamp_seconds",
    help: "When the last scan was evaluated, in seconds since the Unix epoch.",
    labels: [],
};
const INPUT_ERRORS: Family<0> = Family {
    name: "hvguard_scan_input_errors",
    help: "Kata or containerd configuration files of the last scan that exist but could not be loaded.",
    labels: [],
};
const KATA_READY: Family<0> = Family {
    name: "hvguard_kata_ready",
    help: "1 when no finding reaches the policy's [nfd] threshold and every configuration loaded (the hvguard-kata-ready node label), else 0.",
    labels: [],
};
const FINDINGS: Family<2> = Family {
    name: "hvguard_findings",
    help: "Findings of the last scan per rule and severity (only pairs that occur).",
    labels: ["rule", "severity"],
};
const FINDINGS_BY_SEVERITY: Family<1> = Family {
    name: "hvguard_findings_by_severity",
    help: "Findings of the last scan per severity (every severity, 0 included).",
    labels: ["severity"],
};
const HYPERVISOR_INFO: Family<3> = Family {
    name: "hvguard_hypervisor_info",
    help: "A hypervisor binary of the inventory (version \"unknown\" when no source gave one); always 1.",
    labels: ["kind", "version", "path"],
};
const ADVISORIES: Family<2> = Family {
    name: "hvguard_advisories_vulnerable",
    help: "Advisories an installed hypervisor is vulnerable to, per finding severity and CISA KEV listing (accepted risks count as info).",
    labels: ["severity", "kev"],
};
const UNKNOWN: Family<0> = Family {
    name: "hvguard_unknown_checks",
    help: "Checks of the last scan that could not decide because a fact was unreadable.",
    labels: [],
};
const UNKNOWN_BY_RULE: Family<1> = Family {
    name: "hvguard_unknown_checks_by_rule",
    help: "Undecided checks of the last scan per rule (only rules that have one).",
    labels: ["rule"],
};
const STALE: Family<0> = Family {
    name: "hvguard_stale_vmm_processes",
    help: "Running VMM processes on a deleted or replaced binary, library or guest image (findings of hypervisor.stale-process).",
    labels: [],
};
const DRIFT: Family<2> = Family {
    name: "hvguard_drift_changes",
    help: "Changes between the last scan and the previous record or the approved baseline, per kind of change.",
    labels: ["against", "change"],
};
const UPDATE_RESULT: Family<1> = Family {
    name: "hvguard_update_last_result",
    help: "How the last finished hvguard update apply transaction ended: 1 for its result, 0 for the others.",
    labels: ["result"],
};
const UPDATE_TIMESTAMP: Family<0> = Family {
    name: "hvguard_update_last_timestamp_seconds",
    help: "When the last finished hvguard update apply transaction finished, in seconds since the Unix epoch.",
    labels: [],
};
const SLA_OVERDUE: Family<1> = Family {
    name: "hvguard_sla_overdue",
    help: "Open advisories past their remediation deadline (publication date plus the policy's [update] sla_days), per severity; each advisory counted once, at its worst severity.",
    labels: ["severity"],
};

/// Every family this renderer can write, for documentation and tests.
pub const METRIC_NAMES: [&str; 15] = [
    BUILD_INFO.name,
    SCAN_TIMESTAMP.name,
    INPUT_ERRORS.name,
    KATA_READY.name,
    FINDINGS.name,
    FINDINGS_BY_SEVERITY.name,
    HYPERVISOR_INFO.name,
    ADVISORIES.name,
    UNKNOWN.name,
    UNKNOWN_BY_RULE.name,
    STALE.name,
    DRIFT.name,
    UPDATE_RESULT.name,
    UPDATE_TIMESTAMP.name,
    SLA_OVERDUE.name,
];

/// Renders the report and `input` as Prometheus text exposition, ending with a newline.
pub fn render_prometheus(report: &Report, input: &MetricsInput) -> String {
    let tally = report.tally();
    let mut out = Exposition::new(METRICS_SCHEMA);
    out.family(&BUILD_INFO, [([input.hvguard_version.as_str()], 1)]);
    out.single(&SCAN_TIMESTAMP, tally.generated_at_unix);
    out.single(&INPUT_ERRORS, Some(count(input.input_errors)));
    if let Some(ready) = input.kata_ready {
        out.single(&KATA_READY, Some(i64::from(ready)));
    }
    findings(&mut out, report, &tally);
    out.family(
        &HYPERVISOR_INFO,
        tally.hypervisors.iter().map(|(kind, version, path)| {
            (
                [
                    kind.as_str().to_string(),
                    version.clone().unwrap_or_else(|| "unknown".into()),
                    path.to_string_lossy().into_owned(),
                ],
                1,
            )
        }),
    );
    out.family(
        &ADVISORIES,
        Severity::DESCENDING.iter().flat_map(|severity| {
            [false, true].map(|kev| {
                (
                    [severity.as_str(), if kev { "true" } else { "false" }],
                    count(tally.vulnerable(*severity, kev)),
                )
            })
        }),
    );
    out.single(&UNKNOWN, Some(count(tally.unknown_total())));
    out.family(
        &UNKNOWN_BY_RULE,
        tally
            .unknown
            .iter()
            .map(|(rule, n)| ([rule.as_str()], count(*n))),
    );
    out.single(&STALE, Some(count(tally.stale_processes)));
    drift(&mut out, input);
    if let Some(update) = &input.last_update {
        out.family(
            &UPDATE_RESULT,
            UpdateResult::ALL.map(|r| ([r.as_str()], i64::from(r == update.result))),
        );
        out.single(&UPDATE_TIMESTAMP, Some(update.finished_at_unix));
    }
    if let Some(sla) = &input.sla {
        out.family(
            &SLA_OVERDUE,
            Severity::DESCENDING.map(|s| {
                (
                    [s.as_str()],
                    count(sla.overdue.get(&s).copied().unwrap_or(0)),
                )
            }),
        );
    }
    out.finish()
}

fn findings(out: &mut Exposition, report: &Report, tally: &ReportTally) {
    out.family(
        &FINDINGS,
        tally
            .findings
            .iter()
            .map(|((rule, severity), n)| ([rule.as_str(), severity.as_str()], count(*n))),
    );
    out.family(
        &FINDINGS_BY_SEVERITY,
        Severity::DESCENDING.map(|s| ([s.as_str()], count(report.summary.count(s)))),
    );
}

fn drift(out: &mut Exposition, input: &MetricsInput) {
    let against = [
        ("previous", input.drift_since_previous),
        ("baseline", input.drift_since_baseline),
    ];
    if against.iter().all(|(_, d)| d.is_none()) {
        return;
    }
    out.family(
        &DRIFT,
        against.into_iter().flat_map(|(name, counts)| {
            counts.into_iter().flat_map(move |d| {
                [
                    ("finding_added", d.findings_added),
                    ("finding_resolved", d.findings_resolved),
                    ("finding_severity_changed", d.findings_severity_changed),
                    ("fact_changed", d.facts_changed),
                ]
                .map(|(change, n)| ([name, change], count(n)))
            })
        }),
    );
}

/// A count as a sample value; no report holds more than `i64::MAX` of anything.
fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
