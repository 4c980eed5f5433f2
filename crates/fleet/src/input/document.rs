//! What one input file says, reduced to what the fleet report needs.
//!
//! Nodes write three kinds of document: `hvguard.report/v1` (`scan --format json`),
//! `hvguard.update-result/v1` (`update apply|rollback|drill --format json`) and
//! `hvguard.update-status/v1` (`update status --format json`, the only one that knows SLA due
//! dates). Each is read through a borrowed view that names only the fields used here, so
//! fields added later within v1 (or by other hvguard versions) are skipped, not refused, and
//! nothing but a few short strings is copied out of the file.

use std::borrow::Cow;

use hvguard_core::Severity;
use serde::Deserialize;

/// `scan --format json`.
pub const REPORT_SCHEMA: &str = hvguard_core::REPORT_SCHEMA;
/// `update apply|rollback|drill --format json`.
pub const UPDATE_RESULT_SCHEMA: &str = "hvguard.update-result/v1";
/// `update status --format json`.
pub const UPDATE_STATUS_SCHEMA: &str = "hvguard.update-status/v1";

/// The rule whose findings are running VMMs on a replaced binary or library.
pub const STALE_PROCESS_RULE: &str = "hypervisor.stale-process";

/// One readable input file.
#[derive(Debug, Clone, PartialEq)]
pub enum Document {
    Report(NodeReport),
    UpdateResult(UpdateRecord),
    UpdateStatus(StatusRecord),
}

impl Document {
    /// The node the document is about (`host.hostname`), when it says.
    pub fn node(&self) -> Option<&str> {
        match self {
            Document::Report(r) => r.node.as_deref(),
            Document::UpdateResult(u) => u.node.as_deref(),
            Document::UpdateStatus(s) => s.node.as_deref(),
        }
    }

    /// The document's own `generated_at`, as written.
    pub fn generated_at(&self) -> &str {
        match self {
            Document::Report(r) => &r.generated_at,
            Document::UpdateResult(u) => &u.generated_at,
            Document::UpdateStatus(s) => &s.generated_at,
        }
    }
}

/// An advisory one node is vulnerable to (deduplicated over its binaries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeAdvisory {
    pub id: String,
    pub kev: bool,
    /// The highest severity any of the node's findings for it had.
    pub severity: Severity,
}

/// A hypervisor binary a node runs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NodeHypervisor {
    pub kind: String,
    pub version: Option<String>,
}

/// What the fleet report keeps of one `hvguard.report/v1`.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeReport {
    pub node: Option<String>,
    pub generated_at: String,
    /// Findings per severity, counted from the findings (not trusted from `summary`).
    pub summary: hvguard_core::Summary,
    pub advisories: Vec<NodeAdvisory>,
    /// Sorted and deduplicated.
    pub hypervisors: Vec<NodeHypervisor>,
    /// Findings of `hypervisor.stale-process`.
    pub stale_processes: u32,
    /// Rules that could not decide on this node, sorted and deduplicated.
    pub unknown_rules: Vec<String>,
}

impl NodeReport {
    pub fn worst(&self) -> Option<Severity> {
        Severity::DESCENDING
            .into_iter()
            .find(|s| self.summary.count(*s) > 0)
    }
}

/// What the fleet report keeps of one `hvguard.update-result/v1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateRecord {
    pub node: Option<String>,
    pub generated_at: String,
    /// `apply`, `rollback`, `drill`.
    pub command: String,
    /// `updated`, `nothing-to-do`, `refused`, `rolled-back`, `failed` (kept as written).
    pub result: String,
    pub dry_run: bool,
    /// `package from -> to`.
    pub components: Vec<String>,
    /// The first stage that did not pass, with its detail.
    pub failed_stage: Option<(String, String)>,
}

impl UpdateRecord {
    /// The results the fleet playbook counts as a failed node.
    pub fn needs_attention(&self) -> bool {
        matches!(self.result.as_str(), "refused" | "rolled-back" | "failed")
    }
}

/// What the fleet report keeps of one `hvguard.update-status/v1`: the overdue advisories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRecord {
    pub node: Option<String>,
    pub generated_at: String,
    /// (advisory id, days overdue), deduplicated over components (the largest wins).
    pub overdue: Vec<(String, i64)>,
}

/// Why a file is not used. The text is what `problems[].reason` says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error(
        "truncated JSON: the file ends at line {line} column {column} before the document does"
    )]
    Truncated { line: usize, column: usize },
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("foreign JSON: no `schema` field, so not a document hvguard wrote")]
    NoSchema,
    #[error("foreign JSON: {0}")]
    ForeignShape(String),
    #[error("foreign JSON: schema `{0}` is not an hvguard schema")]
    Foreign(String),
    #[error("unsupported schema `{found}`: {why} (this hvguard reads {REPORT_SCHEMA}, {UPDATE_RESULT_SCHEMA} and {UPDATE_STATUS_SCHEMA})")]
    Unsupported { found: String, why: &'static str },
    #[error("a Snapshot, not a report: evaluate it with `hvguard scan --snapshot FILE --format json` first")]
    Snapshot,
    #[error("{schema}: {message}")]
    Invalid { schema: String, message: String },
}

/// Reads one document. `bytes` is the whole file.
pub fn parse_document(bytes: &[u8]) -> Result<Document, DocumentError> {
    let schema = match peek_schema(bytes) {
        Some(schema) => Cow::Borrowed(schema),
        None => Cow::Owned(read_schema_anywhere(bytes)?),
    };
    match schema.as_ref() {
        REPORT_SCHEMA => parse_as::<ReportView<'_>>(bytes, &schema).map(|v| v.into_document()),
        UPDATE_RESULT_SCHEMA => {
            parse_as::<ResultView<'_>>(bytes, &schema).map(|v| v.into_document())
        }
        UPDATE_STATUS_SCHEMA => {
            parse_as::<StatusView<'_>>(bytes, &schema).map(|v| v.into_document())
        }
        other => Err(classify_schema(other)),
    }
}

/// Why a schema this reader does not take is refused.
fn classify_schema(schema: &str) -> DocumentError {
    let Some(rest) = schema.strip_prefix("hvguard.") else {
        return DocumentError::Foreign(schema.to_owned());
    };
    let (kind, version) = rest.split_once("/v").unwrap_or((rest, ""));
    let version: Option<u32> = version.parse().ok();
    let unsupported = |why| DocumentError::Unsupported {
        found: schema.to_owned(),
        why,
    };
    match (kind, version) {
        ("snapshot", _) => DocumentError::Snapshot,
        ("report" | "update-result" | "update-status", Some(v)) if v > 1 => {
            unsupported("written by a newer hvguard; upgrade the one that builds the fleet report")
        }
        ("report" | "update-result" | "update-status", _) => {
            unsupported("an older or unknown version of the format; rescan the node")
        }
        ("fleet", _) => unsupported("a fleet report, not a node's document"),
        _ => unsupported("not a node report, update result or update status"),
    }
}

/// The value of a leading `"schema": "..."` member, found without parsing the document:
/// every hvguard output starts with it. `None` when the file is shaped otherwise.
fn peek_schema(bytes: &[u8]) -> Option<&str> {
    let mut rest = skip_ws(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes));
    rest = skip_ws(rest.strip_prefix(b"{")?);
    rest = skip_ws(rest.strip_prefix(b"\"schema\"")?);
    rest = skip_ws(rest.strip_prefix(b":")?);
    rest = rest.strip_prefix(b"\"")?;
    let end = rest.iter().position(|b| *b == b'"' || *b == b'\\')?;
    if rest[end] != b'"' {
        return None;
    }
    std::str::from_utf8(&rest[..end]).ok()
}

fn skip_ws(bytes: &[u8]) -> &[u8] {
    let n = bytes
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .count();
    &bytes[n..]
}

/// The slow path for documents whose first member is not `schema`: parse the whole file
/// once, keeping only that member.
fn read_schema_anywhere(bytes: &[u8]) -> Result<String, DocumentError> {
    #[derive(Deserialize)]
    struct Head {
        schema: Option<String>,
    }
    let start = skip_ws(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes));
    if start.first() != Some(&b'{') {
        // Valid JSON that is not an object (an array, a number) is foreign; anything else
        // is not JSON at all.
        serde_json::from_slice::<serde::de::IgnoredAny>(bytes).map_err(json_error)?;
        return Err(DocumentError::ForeignShape(
            "the document is not a JSON object".to_owned(),
        ));
    }
    let head: Head = serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => DocumentError::ForeignShape(e.to_string()),
        _ => json_error(e),
    })?;
    head.schema.ok_or(DocumentError::NoSchema)
}

fn parse_as<'a, T: Deserialize<'a>>(bytes: &'a [u8], schema: &str) -> Result<T, DocumentError> {
    serde_json::from_slice(bytes).map_err(|e| match json_error(e) {
        DocumentError::NotJson(message) if !message.is_empty() => DocumentError::Invalid {
            schema: schema.to_owned(),
            message,
        },
        other => other,
    })
}

fn json_error(e: serde_json::Error) -> DocumentError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof => DocumentError::Truncated {
            line: e.line(),
            column: e.column(),
        },
        // Data: valid JSON of the wrong shape; `parse_as` names the schema it broke.
        Category::Syntax | Category::Io | Category::Data => DocumentError::NotJson(e.to_string()),
    }
}

fn owned(text: Option<Cow<'_, str>>) -> Option<String> {
    text.map(Cow::into_owned).filter(|s| !s.trim().is_empty())
}

#[derive(Deserialize)]
struct HostView<'a> {
    #[serde(borrow, default)]
    hostname: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ReportView<'a> {
    #[serde(borrow)]
    generated_at: Cow<'a, str>,
    #[serde(borrow)]
    host: HostView<'a>,
    #[serde(borrow, default)]
    findings: Vec<FindingView<'a>>,
    #[serde(borrow, default)]
    unknown: Vec<UnknownView<'a>>,
    #[serde(borrow, default)]
    hypervisors: Vec<HypervisorView<'a>>,
}

#[derive(Deserialize)]
struct FindingView<'a> {
    #[serde(borrow)]
    rule: Cow<'a, str>,
    severity: Severity,
    #[serde(borrow, default)]
    advisory: Option<AdvisoryView<'a>>,
}

#[derive(Deserialize)]
struct AdvisoryView<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(default)]
    kev: bool,
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct UnknownView<'a> {
    #[serde(borrow)]
    rule: Cow<'a, str>,
}

#[derive(Deserialize)]
struct HypervisorView<'a> {
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    version: Option<Cow<'a, str>>,
}

impl ReportView<'_> {
    fn into_document(self) -> Document {
        let mut summary = hvguard_core::Summary::default();
        let mut advisories: Vec<NodeAdvisory> = Vec::new();
        let mut stale_processes = 0u32;
        for finding in &self.findings {
            match finding.severity {
                Severity::Critical => summary.critical += 1,
                Severity::High => summary.high += 1,
                Severity::Medium => summary.medium += 1,
                Severity::Low => summary.low += 1,
                Severity::Info => summary.info += 1,
            }
            if finding.rule == STALE_PROCESS_RULE {
                stale_processes += 1;
            }
            let Some(adv) = &finding.advisory else {
                continue;
            };
            // Only an open advisory affects the node; a backported fix is a note.
            if adv.status.as_deref().is_some_and(|s| s != "vulnerable") {
                continue;
            }
            match advisories.iter_mut().find(|a| a.id == adv.id) {
                Some(seen) => {
                    seen.kev |= adv.kev;
                    seen.severity = seen.severity.max(finding.severity);
                }
                None => advisories.push(NodeAdvisory {
                    id: adv.id.clone().into_owned(),
                    kev: adv.kev,
                    severity: finding.severity,
                }),
            }
        }
        let mut hypervisors: Vec<NodeHypervisor> = self
            .hypervisors
            .into_iter()
            .map(|h| NodeHypervisor {
                kind: h.kind.into_owned(),
                version: owned(h.version),
            })
            .collect();
        hypervisors.sort();
        hypervisors.dedup();
        let mut unknown_rules: Vec<String> = self
            .unknown
            .into_iter()
            .map(|u| u.rule.into_owned())
            .collect();
        unknown_rules.sort();
        unknown_rules.dedup();
        Document::Report(NodeReport {
            node: owned(self.host.hostname),
            generated_at: self.generated_at.into_owned(),
            summary,
            advisories,
            hypervisors,
            stale_processes,
            unknown_rules,
        })
    }
}

#[derive(Deserialize)]
struct ResultView<'a> {
    #[serde(borrow)]
    generated_at: Cow<'a, str>,
    #[serde(borrow, default)]
    host: Option<HostView<'a>>,
    #[serde(borrow)]
    command: Cow<'a, str>,
    #[serde(borrow)]
    result: Cow<'a, str>,
    #[serde(default)]
    dry_run: bool,
    #[serde(borrow, default)]
    components: Vec<ChangeView<'a>>,
    #[serde(borrow, default)]
    stages: Vec<StageView<'a>>,
}

#[derive(Deserialize)]
struct ChangeView<'a> {
    #[serde(borrow)]
    package: Cow<'a, str>,
    #[serde(borrow)]
    from: Cow<'a, str>,
    #[serde(borrow)]
    to: Cow<'a, str>,
}

#[derive(Deserialize)]
struct StageView<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    ok: bool,
    #[serde(borrow, default)]
    detail: Option<Cow<'a, str>>,
}

impl ResultView<'_> {
    fn into_document(self) -> Document {
        let failed_stage = self.stages.iter().find(|s| !s.ok).map(|s| {
            (
                s.name.clone().into_owned(),
                s.detail.clone().map(Cow::into_owned).unwrap_or_default(),
            )
        });
        Document::UpdateResult(UpdateRecord {
            node: owned(self.host.and_then(|h| h.hostname)),
            generated_at: self.generated_at.into_owned(),
            command: self.command.into_owned(),
            result: self.result.into_owned(),
            dry_run: self.dry_run,
            components: self
                .components
                .iter()
                .map(|c| format!("{} {} -> {}", c.package, c.from, c.to))
                .collect(),
            failed_stage,
        })
    }
}

#[derive(Deserialize)]
struct StatusView<'a> {
    #[serde(borrow)]
    generated_at: Cow<'a, str>,
    #[serde(borrow, default)]
    host: Option<HostView<'a>>,
    #[serde(borrow, default)]
    components: Vec<StatusComponentView<'a>>,
}

#[derive(Deserialize)]
struct StatusComponentView<'a> {
    #[serde(borrow, default)]
    overdue: Vec<OverdueView<'a>>,
}

#[derive(Deserialize)]
struct OverdueView<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(default)]
    days_overdue: i64,
}

impl StatusView<'_> {
    fn into_document(self) -> Document {
        let mut overdue: Vec<(String, i64)> = Vec::new();
        for o in self.components.iter().flat_map(|c| &c.overdue) {
            match overdue.iter_mut().find(|(id, _)| *id == o.id) {
                Some((_, days)) => *days = (*days).max(o.days_overdue),
                None => overdue.push((o.id.clone().into_owned(), o.days_overdue)),
            }
        }
        overdue.sort();
        Document::UpdateStatus(StatusRecord {
            node: owned(self.host.and_then(|h| h.hostname)),
            generated_at: self.generated_at.into_owned(),
            overdue,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_is_peeked_from_the_first_member() {
        assert_eq!(
            peek_schema(b" {\n  \"schema\": \"hvguard.report/v1\",\n"),
            Some("hvguard.report/v1")
        );
        assert_eq!(
            peek_schema(b"{\"generated_at\": 1, \"schema\": \"x\"}"),
            None
        );
        assert_eq!(peek_schema(b"{\"schema\": \"a\\u0041\"}"), None);
        assert_eq!(peek_schema(b"[]"), None);
    }

    #[test]
    fn a_schema_in_another_position_is_still_found() {
        let doc = br#"{"generated_at": "2026-01-01T00:00:00Z", "host": {"hostname": "n1"},
                       "schema": "hvguard.report/v1"}"#;
        let Document::Report(r) = parse_document(doc).unwrap() else {
            panic!("not a report")
        };
        assert_eq!(r.node.as_deref(), Some("n1"));
    }

    #[test]
    fn truncated_foreign_and_unsupported_documents_are_told_apart() {
        let report = br#"{"schema": "hvguard.report/v1", "generated_at": "x", "host": {"#;
        assert!(matches!(
            parse_document(report),
            Err(DocumentError::Truncated { .. })
        ));
        assert_eq!(
            parse_document(br#"{"name": "package.json"}"#),
            Err(DocumentError::NoSchema)
        );
        assert!(matches!(
            parse_document(br#"{"schema": "https://json-schema.org/x"}"#),
            Err(DocumentError::Foreign(_))
        ));
        assert!(matches!(
            parse_document(br#"{"schema": "hvguard.report/v0"}"#),
            Err(DocumentError::Unsupported { .. })
        ));
        let newer = parse_document(br#"{"schema": "hvguard.report/v2"}"#).unwrap_err();
        assert!(newer.to_string().contains("newer hvguard"), "{newer}");
        assert_eq!(
            parse_document(br#"{"schema": "hvguard.snapshot/v1"}"#),
            Err(DocumentError::Snapshot)
        );
        assert!(matches!(
            parse_document(b"\x00\x01garbage"),
            Err(DocumentError::NotJson(_))
        ));
        let wrong_shape =
            parse_document(br#"{"schema": "hvguard.report/v1", "generated_at": 5}"#).unwrap_err();
        assert!(
            wrong_shape
                .to_string()
                .starts_with("hvguard.report/v1: invalid type"),
            "{wrong_shape}"
        );
    }

    #[test]
    fn a_report_is_reduced_to_counts_advisories_versions_and_unknowns() {
        let doc = br#"{"schema": "hvguard.report/v1", "generated_at": "2026-11-27T12:00:00Z",
          "host": {"hostname": "kvm-1", "root": "/", "new_field": true},
          "summary": {"critical": 9, "high": 9, "medium": 9, "low": 9, "info": 9},
          "findings": [
            {"rule": "advisory.vulnerable", "severity": "high", "title": "t",
             "advisory": {"id": "CVE-1", "kev": false, "status": "vulnerable"}},
            {"rule": "advisory.vulnerable", "severity": "critical",
             "advisory": {"id": "CVE-1", "kev": true, "status": "vulnerable"}},
            {"rule": "advisory.vulnerable", "severity": "info",
             "advisory": {"id": "CVE-2", "kev": false, "status": "fixed-by-backport"}},
            {"rule": "hypervisor.stale-process", "severity": "high", "advisory": null}],
          "unknown": [{"rule": "b.x", "reason": "r"}, {"rule": "a.y", "reason": "r"},
                      {"rule": "b.x", "reason": "other"}],
          "hypervisors": [{"kind": "qemu", "version": "7.2.22", "path": "/a"},
                          {"kind": "qemu", "version": "7.2.22", "path": "/b"},
                          {"kind": "virtiofsd", "version": null, "path": "/c"}]}"#;
        let Document::Report(r) = parse_document(doc).unwrap() else {
            panic!("not a report")
        };
        assert_eq!(r.summary.critical, 1);
        assert_eq!(r.summary.high, 2);
        assert_eq!(r.summary.info, 1);
        assert_eq!(r.worst(), Some(Severity::Critical));
        assert_eq!(
            r.advisories,
            vec![NodeAdvisory {
                id: "CVE-1".into(),
                kev: true,
                severity: Severity::Critical
            }]
        );
        assert_eq!(r.stale_processes, 1);
        assert_eq!(r.unknown_rules, vec!["a.y", "b.x"]);
        assert_eq!(r.hypervisors.len(), 2);
    }

    #[test]
    fn update_results_and_statuses_keep_what_the_fleet_needs() {
        let result = br#"{"schema": "hvguard.update-result/v1", "command": "apply",
          "transaction": "tx-1", "result": "rolled-back", "components":
          [{"package": "qemu-system-x86", "from": "1", "to": "2"}],
          "stages": [{"name": "install", "ok": true, "ms": 1, "detail": "ok"},
                     {"name": "verify", "ok": false, "ms": 1, "detail": "boot failed"}],
          "generated_at": "2026-11-27T12:00:00Z", "host": {"hostname": "kvm-1"}}"#;
        let Document::UpdateResult(u) = parse_document(result).unwrap() else {
            panic!("not a result")
        };
        assert!(u.needs_attention());
        assert_eq!(
            u.failed_stage,
            Some(("verify".to_owned(), "boot failed".to_owned()))
        );
        assert_eq!(u.components, vec!["qemu-system-x86 1 -> 2"]);
        let status =
            br#"{"schema": "hvguard.update-status/v1", "generated_at": "2026-11-27T12:00:00Z",
          "components": [{"overdue": [{"id": "CVE-9", "days_overdue": 3}]},
                         {"overdue": [{"id": "CVE-9", "days_overdue": 5}, {"id": "CVE-1"}]}]}"#;
        let Document::UpdateStatus(s) = parse_document(status).unwrap() else {
            panic!("not a status")
        };
        assert_eq!(s.node, None);
        assert_eq!(s.overdue, vec![("CVE-1".into(), 0), ("CVE-9".into(), 5)]);
    }
}
