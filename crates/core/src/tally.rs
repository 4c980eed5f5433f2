//! Counts over a finished report, for the exporters that speak other systems' languages
//! (Prometheus metrics, Node Feature Discovery labels).
//!
//! The renderers only present; the counting lives here, next to [`crate::Summary`], so that
//! every exporter counts the same way and a test of the counts does not go through a format.

use crate::{AdvisoryStatus, HypervisorKind, Report, RuleId, Severity};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// The rule whose findings are running VMMs left on a replaced binary or library (RULES.md).
pub const STALE_PROCESS_RULE: &str = "hypervisor.stale-process";

/// What the exporters present about one report. Maps are ordered, so output is deterministic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportTally {
    /// Findings per (rule, severity); only pairs that occur.
    pub findings: BTreeMap<(RuleId, Severity), usize>,
    /// Findings that carry an advisory in status `vulnerable`, per (severity, on CISA KEV).
    pub vulnerable_advisories: BTreeMap<(Severity, bool), usize>,
    /// Unknown checks per rule; only rules that have one.
    pub unknown: BTreeMap<RuleId, usize>,
    /// Findings of [`STALE_PROCESS_RULE`]: one per stale VMM process.
    pub stale_processes: usize,
    /// Every (kind, version, path) of the inventory, once each.
    pub hypervisors: BTreeSet<(HypervisorKind, Option<String>, PathBuf)>,
    /// Per kind, the distinct versions of the binaries that Kata configurations use, or of
    /// every binary of that kind when no configuration names one (`None` = version unknown).
    /// Only the kinds a sandbox runs (see `label_kind`): QEMU's tools are left out.
    pub kind_versions: BTreeMap<HypervisorKind, BTreeSet<Option<String>>>,
    /// `generated_at` as seconds since the Unix epoch, when it is an RFC 3339 timestamp.
    pub generated_at_unix: Option<i64>,
}

impl ReportTally {
    /// Vulnerable advisories of one severity, on the KEV catalogue (`kev`) or not.
    pub fn vulnerable(&self, severity: Severity, kev: bool) -> usize {
        self.vulnerable_advisories
            .get(&(severity, kev))
            .copied()
            .unwrap_or(0)
    }

    /// All unknown checks.
    pub fn unknown_total(&self) -> usize {
        self.unknown.values().sum()
    }
}

impl Report {
    /// Counts what the exporters present; see [`ReportTally`].
    pub fn tally(&self) -> ReportTally {
        let mut tally = ReportTally {
            generated_at_unix: self
                .generated_at
                .parse::<jiff::Timestamp>()
                .ok()
                .map(|t| t.as_second()),
            ..ReportTally::default()
        };
        for finding in &self.findings {
            *tally
                .findings
                .entry((finding.rule.clone(), finding.severity))
                .or_default() += 1;
            if let Some(advisory) = finding
                .advisory
                .as_ref()
                .filter(|a| a.status == AdvisoryStatus::Vulnerable)
            {
                *tally
                    .vulnerable_advisories
                    .entry((finding.severity, advisory.kev))
                    .or_default() += 1;
            }
            if finding.rule.as_str() == STALE_PROCESS_RULE {
                tally.stale_processes += 1;
            }
        }
        for unknown in &self.unknown {
            *tally.unknown.entry(unknown.rule.clone()).or_default() += 1;
        }
        for h in &self.hypervisors {
            tally
                .hypervisors
                .insert((h.kind, h.version.clone(), h.path.clone()));
        }
        let kinds: BTreeSet<HypervisorKind> = self
            .hypervisors
            .iter()
            .filter_map(|h| label_kind(h.kind))
            .collect();
        for kind in kinds {
            let of_kind = || {
                self.hypervisors
                    .iter()
                    .filter(move |h| label_kind(h.kind) == Some(kind))
            };
            let used = of_kind().any(|h| !h.used_by.is_empty());
            let versions = of_kind()
                .filter(|h| !used || !h.used_by.is_empty())
                .map(|h| h.version.clone())
                .collect();
            tally.kind_versions.insert(kind, versions);
        }
        tally
    }
}

/// The kind a binary counts as in [`ReportTally::kind_versions`]: the programs a Kata
/// sandbox runs (VMMs, the jailer, virtiofsd). QEMU's C virtiofsd counts as `virtiofsd`; QEMU's
/// other programs (qemu-img, qemu-nbd, qemu-storage-daemon, the guest agent, the bridge
/// helper) are inventoried and matched against advisories, but say nothing about which
/// sandboxes a node can run.
fn label_kind(kind: HypervisorKind) -> Option<HypervisorKind> {
    match kind {
        HypervisorKind::QemuVirtiofsd => Some(HypervisorKind::Virtiofsd),
        HypervisorKind::QemuImg
        | HypervisorKind::QemuNbd
        | HypervisorKind::QemuStorageDaemon
        | HypervisorKind::QemuGuestAgent
        | HypervisorKind::QemuBridgeHelper => None,
        other => Some(other),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{AdvisoryRef, Finding, Hypervisor, ReportHost, UnknownCheck};

    fn finding(rule: &str, severity: Severity, kev: Option<bool>) -> Finding {
        Finding {
            rule: RuleId::new(rule).unwrap(),
            severity,
            title: String::new(),
            message: String::new(),
            location: None,
            evidence: String::new(),
            remediation: String::new(),
            references: vec![],
            advisory: kev.map(|kev| AdvisoryRef {
                id: "CVE-2024-0001".into(),
                aliases: vec![],
                cvss: None,
                kev,
                epss: None,
                fixed_in: None,
                status: AdvisoryStatus::Vulnerable,
                relevance: String::new(),
                component: String::new(),
                components: vec![],
                binaries: vec![],
            }),
        }
    }

    fn hypervisor(
        kind: HypervisorKind,
        path: &str,
        version: Option<&str>,
        used: bool,
    ) -> Hypervisor {
        Hypervisor {
            kind,
            path: path.into(),
            version: version.map(str::to_string),
            version_source: None,
            version_evidence: None,
            package: None,
            kata_release: None,
            stat: None,
            parent_dirs: Vec::new(),
            version_note: None,
            used_by: if used {
                vec!["/etc/kata-containers/configuration.toml".into()]
            } else {
                vec![]
            },
            devices: None,
        }
    }

    fn report(findings: Vec<Finding>, hypervisors: Vec<Hypervisor>) -> Report {
        Report::new(
            "2026-11-27T12:00:00Z".into(),
            ReportHost {
                hostname: None,
                root: "/".into(),
                kernel: None,
                os: None,
            },
            findings,
            vec![
                UnknownCheck::new(RuleId::new("host.unprivileged-bpf").unwrap(), "denied"),
                UnknownCheck::new(RuleId::new("advisory.vulnerable").unwrap(), "a"),
                UnknownCheck::new(RuleId::new("advisory.vulnerable").unwrap(), "b"),
            ],
            hypervisors,
        )
    }

    #[test]
    fn counts_findings_advisories_unknowns_and_stale_processes() {
        let r = report(
            vec![
                finding("host.ksm-enabled", Severity::Medium, None),
                finding("advisory.vulnerable", Severity::Critical, Some(true)),
                finding("advisory.vulnerable", Severity::High, Some(false)),
                finding("advisory.vulnerable", Severity::High, Some(false)),
                finding(STALE_PROCESS_RULE, Severity::High, None),
                finding(STALE_PROCESS_RULE, Severity::High, None),
            ],
            vec![],
        );
        let t = r.tally();
        assert_eq!(t.generated_at_unix, Some(1_795_780_800));
        let advisory = RuleId::new("advisory.vulnerable").unwrap();
        assert_eq!(t.findings[&(advisory.clone(), Severity::High)], 2);
        assert_eq!(t.findings[&(advisory.clone(), Severity::Critical)], 1);
        assert_eq!(t.findings.len(), 4);
        assert_eq!(t.vulnerable(Severity::Critical, true), 1);
        assert_eq!(t.vulnerable(Severity::High, false), 2);
        assert_eq!(t.vulnerable(Severity::High, true), 0);
        assert_eq!(t.stale_processes, 2);
        assert_eq!(t.unknown[&advisory], 2);
        assert_eq!(t.unknown_total(), 3);
    }

    #[test]
    fn kind_versions_prefer_what_kata_uses() {
        let r = report(
            vec![],
            vec![
                hypervisor(
                    HypervisorKind::Qemu,
                    "/usr/bin/qemu-system-x86_64",
                    Some("7.2.22"),
                    false,
                ),
                hypervisor(
                    HypervisorKind::Qemu,
                    "/opt/kata/bin/qemu-system-x86_64",
                    Some("8.2.0"),
                    true,
                ),
                hypervisor(
                    HypervisorKind::Firecracker,
                    "/opt/kata/bin/firecracker",
                    Some("1.12.1"),
                    false,
                ),
                hypervisor(
                    HypervisorKind::Firecracker,
                    "/usr/local/bin/firecracker",
                    None,
                    false,
                ),
            ],
        );
        let t = r.tally();
        assert_eq!(
            t.kind_versions[&HypervisorKind::Qemu],
            BTreeSet::from([Some("8.2.0".to_string())])
        );
        assert_eq!(
            t.kind_versions[&HypervisorKind::Firecracker],
            BTreeSet::from([None, Some("1.12.1".to_string())])
        );
        assert_eq!(t.hypervisors.len(), 4);
    }

    #[test]
    fn qemu_tools_are_inventoried_but_not_kinds_and_the_c_virtiofsd_is_virtiofsd() {
        let r = report(
            vec![],
            vec![
                hypervisor(
                    HypervisorKind::Qemu,
                    "/usr/bin/qemu-system-x86_64",
                    Some("7.2.22"),
                    false,
                ),
                hypervisor(
                    HypervisorKind::QemuStorageDaemon,
                    "/usr/bin/qemu-storage-daemon",
                    Some("7.2.22"),
                    false,
                ),
                hypervisor(
                    HypervisorKind::QemuBridgeHelper,
                    "/usr/lib/qemu/qemu-bridge-helper",
                    Some("7.2"),
                    false,
                ),
                hypervisor(
                    HypervisorKind::QemuVirtiofsd,
                    "/usr/lib/qemu/virtiofsd",
                    Some("7.2.22"),
                    false,
                ),
            ],
        );
        let t = r.tally();
        assert_eq!(t.hypervisors.len(), 4);
        assert_eq!(
            t.kind_versions.keys().copied().collect::<Vec<_>>(),
            vec![HypervisorKind::Qemu, HypervisorKind::Virtiofsd]
        );
        assert_eq!(
            t.kind_versions[&HypervisorKind::Virtiofsd],
            BTreeSet::from([Some("7.2.22".to_string())])
        );
    }

    #[test]
    fn an_unparsable_timestamp_is_unknown_not_zero() {
        let mut r = report(vec![], vec![]);
        r.generated_at = "yesterday".into();
        assert_eq!(r.tally().generated_at_unix, None);
    }
}
