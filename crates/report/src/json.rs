//! The JSON report: the stable `hvguard.report/v1` contract of DESIGN.md §5.
//!
//! The shape is spelled out here as borrowed views rather than left to the core types'
//! `Serialize` derives, so that a change to the data model cannot silently change the
//! contract, and so that `location` always carries `path`, `line` and `key` (null when
//! unknown) as §5 shows.

use hvguard_core::{
    AdvisoryRef, Finding, Hypervisor, HypervisorKind, PackageManager, PackageRef, Report,
    ReportHost, RuleId, Severity, Summary, UnknownCheck, VersionSource,
};
use serde::Serialize;

/// Renders the report as pretty-printed `hvguard.report/v1` JSON ending with a newline.
pub fn render_json(report: &Report) -> String {
    crate::to_pretty_json(&ReportView::of(report))
}

#[derive(Serialize)]
struct ReportView<'a> {
    schema: &'a str,
    generated_at: &'a str,
    host: &'a ReportHost,
    summary: &'a Summary,
    findings: Vec<FindingView<'a>>,
    unknown: &'a [UnknownCheck],
    hypervisors: Vec<HypervisorView<'a>>,
    /// Present only when the scan compared with the baseline or the previous record.
    #[serde(skip_serializing_if = "Option::is_none")]
    drift: Option<&'a hvguard_core::Diff>,
}

impl<'a> ReportView<'a> {
    fn of(report: &'a Report) -> Self {
        ReportView {
            schema: &report.schema,
            generated_at: &report.generated_at,
            host: &report.host,
            summary: &report.summary,
            findings: report.findings.iter().map(FindingView::of).collect(),
            unknown: &report.unknown,
            hypervisors: report.hypervisors.iter().map(HypervisorView::of).collect(),
            drift: report.drift.as_ref(),
        }
    }
}

#[derive(Serialize)]
struct FindingView<'a> {
    rule: &'a RuleId,
    severity: Severity,
    title: &'a str,
    message: &'a str,
    location: Option<LocationView<'a>>,
    evidence: &'a str,
    remediation: &'a str,
    references: &'a [String],
    advisory: Option<&'a AdvisoryRef>,
}

impl<'a> FindingView<'a> {
    fn of(f: &'a Finding) -> Self {
        FindingView {
            rule: &f.rule,
            severity: f.severity,
            title: &f.title,
            message: &f.message,
            location: f.location.as_ref().map(|l| LocationView {
                path: l.path.to_string_lossy().into_owned(),
                line: l.line,
                key: l.key.as_deref(),
            }),
            evidence: &f.evidence,
            remediation: &f.remediation,
            references: &f.references,
            advisory: f.advisory.as_ref(),
        }
    }
}

#[derive(Serialize)]
struct LocationView<'a> {
    path: String,
    line: Option<u32>,
    key: Option<&'a str>,
}

#[derive(Serialize)]
struct HypervisorView<'a> {
    kind: HypervisorKind,
    path: String,
    version: Option<&'a str>,
    version_source: Option<VersionSource>,
    version_evidence: Option<&'a str>,
    kata_release: Option<&'a str>,
    package: Option<PackageView<'a>>,
    used_by: Vec<String>,
}

impl<'a> HypervisorView<'a> {
    fn of(h: &'a Hypervisor) -> Self {
        HypervisorView {
            kind: h.kind,
            path: h.path.to_string_lossy().into_owned(),
            version: h.version.as_deref(),
            version_source: h.version_source,
            version_evidence: h.version_evidence.as_deref(),
            kata_release: h.kata_release.as_deref(),
            package: h.package.as_ref().map(PackageView::of),
            used_by: h
                .used_by
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect(),
        }
    }
}

/// §5 names `name`, `source` and `version`; `manager` and `source_version` are added so a
/// consumer can compare versions in the right ordering and match advisories on the source.
#[derive(Serialize)]
struct PackageView<'a> {
    manager: PackageManager,
    name: &'a str,
    version: &'a str,
    source: &'a str,
    source_version: &'a str,
}

impl<'a> PackageView<'a> {
    fn of(p: &'a PackageRef) -> Self {
        PackageView {
            manager: p.manager,
            name: &p.name,
            version: &p.version,
            source: &p.source,
            source_version: &p.source_version,
        }
    }
}
