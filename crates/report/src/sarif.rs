//! SARIF 2.1.0 for code-scanning services (GitHub code scanning and any SARIF viewer).
//!
//! Mapping decisions (docs/report-formats.md has the table):
//! - every catalogue rule becomes a `reportingDescriptor`, so that a rule with no finding is
//!   still known to the service; a rule a finding names but the catalogue lacks is appended;
//! - file locations are written relative to the scanned root under the `HOSTROOT` base id,
//!   because the same config file must keep one identity across hosts and mounts;
//! - a finding about a host fact with no file gets no `locations` (SARIF allows none);
//! - unknown checks become `toolExecutionNotifications` tied to their rule: the run could
//!   not evaluate them, which is not a result.

use crate::fingerprint::fnv1a_hex;
use crate::sarif_model::*;
use crate::uri::{relative_to_root, root_uri};
use hvguard_core::{Finding, Report, Severity};
use std::collections::BTreeMap;

/// Where people learn about hvguard (`tool.driver.informationUri`).
pub const INFORMATION_URI: &str = "https://github.com/hvguard/hvguard";

/// The `uriBaseId` that file locations are relative to: the root that was scanned.
pub const URI_BASE_ID: &str = "HOSTROOT";

const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// GitHub shows at most this many characters of a rule's short and full description.
const DESCRIPTION_LIMIT: usize = 1024;

/// One rule of the catalogue, as SARIF needs it. The CLI maps the audit catalogue into
/// these so that this crate does not depend on the rules themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SarifRule {
    /// `<area>.<kebab-slug>`, e.g. `host.kvm-unavailable`.
    pub id: String,
    /// One line naming the problem.
    pub title: String,
    /// The default severity (findings may be raised or lowered by context).
    pub severity: Severity,
    /// When the rule fires, in one sentence.
    pub fires_when: String,
    /// The exact setting or command that fixes it.
    pub remediation: String,
    /// URLs of upstream documentation or advisories.
    pub references: Vec<String>,
}

/// Renders the report as a SARIF 2.1.0 log with one run, ending with a newline.
///
/// `docs_base` is the URL under which `docs/rules/<id>.md` pages live, e.g.
/// `https://github.com/OWNER/hvguard/blob/main/docs/rules/`; each rule's `helpUri` is
/// `docs_base` + `<id>.md`.
pub fn render_sarif(report: &Report, catalogue: &[SarifRule], docs_base: &str) -> String {
    let rules = RuleTable::new(report, catalogue);
    let descriptors = rules
        .rules
        .iter()
        .map(|r| descriptor(r, docs_base))
        .collect();
    let mut occurrences: BTreeMap<String, usize> = BTreeMap::new();
    let results = report
        .findings
        .iter()
        .map(|f| result(f, &rules, &mut occurrences))
        .collect();
    let notifications = report
        .unknown
        .iter()
        .map(|u| Notification {
            level: "note",
            message: Message {
                text: format!("{} could not be checked: {}", u.rule, u.reason),
            },
            associated_rule: RuleReference {
                id: u.rule.as_str(),
                index: rules.index(u.rule.as_str()),
            },
        })
        .collect();
    let mut base_ids = BTreeMap::new();
    if let Some(uri) = root_uri(&report.host.root) {
        base_ids.insert(
            URI_BASE_ID,
            ArtifactLocation {
                uri,
                uri_base_id: None,
            },
        );
    }
    let log = Log {
        schema: SCHEMA_URI,
        version: "2.1.0",
        runs: [Run {
            tool: Tool {
                driver: Driver {
                    name: "hvguard",
                    information_uri: INFORMATION_URI,
                    version: env!("CARGO_PKG_VERSION"),
                    rules: descriptors,
                },
            },
            original_uri_base_ids: base_ids,
            invocations: [Invocation {
                execution_successful: true,
                end_time_utc: Some(report.generated_at.as_str()).filter(|t| !t.is_empty()),
                tool_execution_notifications: notifications,
            }],
            results,
            properties: RunProperties {
                host: &report.host,
                summary: &report.summary,
            },
        }],
    };
    crate::to_pretty_json(&log)
}

/// The rules of the run in `tool.driver.rules` order, with an id -> index map.
struct RuleTable<'a> {
    rules: Vec<RuleRow<'a>>,
    index: BTreeMap<&'a str, usize>,
}

/// A catalogue rule, or a stand-in built from a finding whose rule the catalogue lacks.
struct RuleRow<'a> {
    id: &'a str,
    title: &'a str,
    severity: Severity,
    fires_when: &'a str,
    remediation: &'a str,
    references: &'a [String],
}

impl<'a> RuleTable<'a> {
    fn new(report: &'a Report, catalogue: &'a [SarifRule]) -> Self {
        let mut table = RuleTable {
            rules: Vec::with_capacity(catalogue.len()),
            index: BTreeMap::new(),
        };
        for r in catalogue {
            table.push(RuleRow {
                id: &r.id,
                title: &r.title,
                severity: r.severity,
                fires_when: &r.fires_when,
                remediation: &r.remediation,
                references: &r.references,
            });
        }
        // Stand-ins in id order, so the output does not depend on finding order.
        let mut missing: BTreeMap<&str, RuleRow<'a>> = BTreeMap::new();
        for f in &report.findings {
            let id = f.rule.as_str();
            if !table.index.contains_key(id) && !missing.contains_key(id) {
                missing.insert(
                    id,
                    RuleRow {
                        id,
                        title: &f.title,
                        severity: f.severity,
                        fires_when: "",
                        remediation: &f.remediation,
                        references: &f.references,
                    },
                );
            }
        }
        for u in &report.unknown {
            let id = u.rule.as_str();
            if !table.index.contains_key(id) && !missing.contains_key(id) {
                missing.insert(
                    id,
                    RuleRow {
                        id,
                        title: id,
                        severity: Severity::Info,
                        fires_when: "",
                        remediation: "",
                        references: &[],
                    },
                );
            }
        }
        for (_, row) in missing {
            table.push(row);
        }
        table
    }

    fn push(&mut self, row: RuleRow<'a>) {
        if !self.index.contains_key(row.id) {
            self.index.insert(row.id, self.rules.len());
            self.rules.push(row);
        }
    }

    /// Every id a finding or unknown check names was added in `new`, so the fallback 0 is
    /// never used; it keeps this total without a panic path.
    fn index(&self, id: &str) -> usize {
        self.index.get(id).copied().unwrap_or(0)
    }
}

/// SARIF `level`: GitHub fails a check on `error`, so only critical and high get it.
fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub's `security-severity` score: >9.0 critical, 7.0-8.9 high, 4.0-6.9 medium,
/// 0.1-3.9 low; 0.0 means "no security severity", which is what info is.
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

fn descriptor<'a>(r: &RuleRow<'a>, docs_base: &str) -> ReportingDescriptor<'a> {
    let separator = if docs_base.is_empty() || docs_base.ends_with('/') {
        ""
    } else {
        "/"
    };
    let full = if r.fires_when.is_empty() {
        r.title.to_string()
    } else {
        format!("Fires when {}", r.fires_when)
    };
    let area = r.id.split_once('.').map_or(r.id, |(area, _)| area);
    ReportingDescriptor {
        id: r.id,
        name: pascal_case(r.id),
        short_description: Message {
            text: truncate(r.title),
        },
        full_description: Message {
            text: truncate(&full),
        },
        help_uri: format!("{docs_base}{separator}{}.md", r.id),
        help: help(r),
        default_configuration: Configuration {
            level: level(r.severity),
        },
        properties: DescriptorProperties {
            security_severity: security_severity(r.severity),
            precision: "high",
            tags: vec!["security".to_string(), area.to_string()],
        },
    }
}

fn help(r: &RuleRow<'_>) -> Help {
    let mut text = r.title.to_string();
    let mut markdown = format!("**{}**", r.title);
    if !r.fires_when.is_empty() {
        text.push_str(&format!("\n\nFires when: {}", r.fires_when));
        markdown.push_str(&format!("\n\nFires when: {}", r.fires_when));
    }
    if !r.remediation.is_empty() {
        text.push_str(&format!("\n\nFix: {}", r.remediation));
        markdown.push_str(&format!("\n\n**Fix:** {}", r.remediation));
    }
    if !r.references.is_empty() {
        text.push_str("\n\nReferences:");
        markdown.push_str("\n\n**References:**\n");
        for reference in r.references {
            text.push_str(&format!("\n- {reference}"));
            markdown.push_str(&format!("\n- <{reference}>"));
        }
    }
    Help { text, markdown }
}

fn result<'a>(
    f: &'a Finding,
    rules: &RuleTable<'_>,
    occurrences: &mut BTreeMap<String, usize>,
) -> SarifResult<'a> {
    let path = f
        .location
        .as_ref()
        .map(|l| l.path.to_string_lossy().into_owned());
    let key = f.location.as_ref().and_then(|l| l.key.as_deref());
    let advisory = f.advisory.as_ref().map_or("", |a| a.id.as_str());
    // Identity leaves out the line (an edit above the key moves it) and the evidence (a
    // changed value is the same problem), so one problem keeps one alert across runs.
    let identity = fnv1a_hex(&[
        f.rule.as_str(),
        path.as_deref().unwrap_or(""),
        key.unwrap_or(""),
        advisory,
    ]);
    let seen = occurrences.entry(identity.clone()).or_insert(0);
    *seen += 1;
    let fingerprint = format!("{identity}:{seen}");
    let mut fingerprints = BTreeMap::new();
    // GitHub reads only primaryLocationLineHash; the files are usually not in the repository
    // it would hash lines from, so the finding's identity stands in for the line hash.
    fingerprints.insert("primaryLocationLineHash", fingerprint.clone());
    fingerprints.insert("hvguard/v1", fingerprint);

    let mut text = f.message.clone();
    if !f.evidence.is_empty() {
        text.push_str("\nEvidence: ");
        text.push_str(&f.evidence);
    }
    let locations = match (&f.location, path) {
        (Some(loc), Some(path)) => vec![Location {
            physical_location: PhysicalLocation {
                artifact_location: ArtifactLocation {
                    uri: relative_to_root(&path),
                    uri_base_id: Some(URI_BASE_ID),
                },
                // SARIF lines start at 1; a 0 would make the log invalid.
                region: loc
                    .line
                    .filter(|l| *l >= 1)
                    .map(|start_line| Region { start_line }),
            },
            logical_locations: key
                .map(|k| LogicalLocation {
                    fully_qualified_name: k,
                    kind: "property",
                })
                .into_iter()
                .collect(),
        }],
        _ => Vec::new(),
    };
    SarifResult {
        rule_id: f.rule.as_str(),
        rule_index: rules.index(f.rule.as_str()),
        level: level(f.severity),
        message: Message { text },
        locations,
        partial_fingerprints: fingerprints,
        properties: ResultProperties {
            severity: f.severity,
            evidence: &f.evidence,
            key,
            advisory: f.advisory.as_ref(),
        },
    }
}

/// `host.kvm-unavailable` -> `HostKvmUnavailable`: SARIF wants a `name` readable as one word.
fn pascal_case(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for part in id.split(['.', '-']).filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

fn truncate(text: &str) -> String {
    if text.chars().nth(DESCRIPTION_LIMIT).is_none() {
        return text.to_string();
    }
    // Keep LIMIT - 1 characters and an ellipsis, cutting on a character boundary.
    let cut = text
        .char_indices()
        .nth(DESCRIPTION_LIMIT - 1)
        .map_or(text.len(), |(i, _)| i);
    let mut short = text[..cut].to_string();
    short.push('\u{2026}');
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_scores_follow_the_documented_table() {
        let expected = [
            (Severity::Critical, "error", "9.5"),
            (Severity::High, "error", "8.0"),
            (Severity::Medium, "warning", "5.5"),
            (Severity::Low, "note", "3.0"),
            (Severity::Info, "note", "0.0"),
        ];
        for (severity, lvl, score) in expected {
            assert_eq!(level(severity), lvl);
            assert_eq!(security_severity(severity), score);
        }
    }

    #[test]
    fn names_are_pascal_case() {
        assert_eq!(pascal_case("host.kvm-unavailable"), "HostKvmUnavailable");
        assert_eq!(
            pascal_case("qemu.seccomp-sandbox-off"),
            "QemuSeccompSandboxOff"
        );
    }

    #[test]
    fn descriptions_are_cut_at_githubs_limit() {
        assert_eq!(truncate("short"), "short");
        let long = "é".repeat(DESCRIPTION_LIMIT + 10);
        let cut = truncate(&long);
        assert_eq!(cut.chars().count(), DESCRIPTION_LIMIT);
        assert!(cut.ends_with('\u{2026}'));
        let exact = "a".repeat(DESCRIPTION_LIMIT);
        assert_eq!(truncate(&exact), exact);
    }
}
