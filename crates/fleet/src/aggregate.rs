//! Folding documents into the fleet report, one at a time.
//!
//! Per node only what the report shows is kept: counts, and advisory ids, hypervisor
//! builds and unknown rule ids as small integers into string tables shared by every node
//! (a fleet has few distinct CVEs and versions, so 10,000 nodes cost a few hundred bytes
//! each). A node's report is replaced when a newer one of the same node arrives (latest
//! `generated_at` wins, the older file is named in `problems`), which is why the per-node
//! entries are kept until the end instead of being added into running totals.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use hvguard_core::{Severity, Summary};

use crate::input::document::{NodeReport, StatusRecord, UpdateRecord};
use crate::input::{Document, Problem};
use crate::model::{
    AdvisoryRow, BySeverity, FleetReport, HostRow, Inputs, StaleRow, UnknownRow, UpdateRow,
    Updates, VersionRow, FLEET_SCHEMA,
};

/// Strings seen on many nodes, stored once.
#[derive(Debug, Default)]
struct Interner {
    ids: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Interner {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }

    fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map(|n| &**n).unwrap_or("")
    }
}

/// When a document was written, for "latest wins": unparseable times sort first (oldest),
/// the file path breaks ties so that the outcome never depends on reading order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Stamp {
    at: Option<jiff::Timestamp>,
    file: PathBuf,
}

#[derive(Debug, Clone, Copy)]
struct AdvisoryEntry {
    id: u32,
    kev: bool,
    severity: Severity,
}

#[derive(Debug)]
struct NodeSlot {
    stamp: Stamp,
    generated_at: Box<str>,
    summary: Summary,
    advisories: Box<[AdvisoryEntry]>,
    /// (kind, version) ids; `None` for an unreadable version.
    hypervisors: Box<[(u32, Option<u32>)]>,
    stale: u32,
    unknown: Box<[u32]>,
}

#[derive(Debug)]
struct UpdateSlot {
    stamp: Stamp,
    record: UpdateRecord,
}

#[derive(Debug)]
struct StatusSlot {
    stamp: Stamp,
    overdue: Box<[u32]>,
}

/// The running state of one fleet report.
#[derive(Debug)]
pub struct Aggregator {
    now: jiff::Timestamp,
    max_age_hours: u64,
    advisory_ids: Interner,
    names: Interner,
    rules: Interner,
    nodes: HashMap<Box<str>, NodeSlot>,
    updates: HashMap<Box<str>, UpdateSlot>,
    statuses: HashMap<Box<str>, StatusSlot>,
    inputs: Inputs,
    problems: Vec<Problem>,
}

impl Aggregator {
    pub fn new(now: jiff::Timestamp, max_age_hours: u64) -> Aggregator {
        Aggregator {
            now,
            max_age_hours,
            advisory_ids: Interner::default(),
            names: Interner::default(),
            rules: Interner::default(),
            nodes: HashMap::new(),
            updates: HashMap::new(),
            statuses: HashMap::new(),
            inputs: Inputs::default(),
            problems: Vec::new(),
        }
    }

    /// A file or folder the walk could not use.
    pub fn problem(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    /// One file read: its document, or why it could not be used.
    pub fn add(&mut self, file: PathBuf, document: Result<Document, String>) {
        self.inputs.files += 1;
        let document = match document {
            Ok(document) => document,
            Err(reason) => {
                self.inputs.unusable += 1;
                self.problems.push(Problem { file, reason });
                return;
            }
        };
        let at = match document.generated_at().parse::<jiff::Timestamp>() {
            Ok(at) => Some(at),
            Err(_) => {
                self.problems.push(Problem::new(
                    &file,
                    format!(
                        "generated_at {:?} is not an RFC 3339 time: taken as the oldest document \
                         of its node",
                        document.generated_at()
                    ),
                ));
                None
            }
        };
        let stamp = Stamp { at, file };
        match document {
            Document::Report(report) => self.add_report(stamp, report),
            Document::UpdateResult(record) => self.add_update(stamp, record),
            Document::UpdateStatus(record) => self.add_status(stamp, record),
        }
    }

    fn add_report(&mut self, stamp: Stamp, report: NodeReport) {
        self.inputs.reports += 1;
        let node = match &report.node {
            Some(name) => name.clone(),
            None => {
                let name = stamp.file.display().to_string();
                self.problems.push(Problem::new(
                    &stamp.file,
                    "no hostname in the report's host block: the node is listed under its file name",
                ));
                name
            }
        };
        let slot = NodeSlot {
            generated_at: report.generated_at.as_str().into(),
            summary: report.summary,
            advisories: report
                .advisories
                .iter()
                .map(|a| AdvisoryEntry {
                    id: self.advisory_ids.id(&a.id),
                    kev: a.kev,
                    severity: a.severity,
                })
                .collect(),
            hypervisors: report
                .hypervisors
                .iter()
                .map(|h| {
                    (
                        self.names.id(&h.kind),
                        h.version.as_deref().map(|v| self.names.id(v)),
                    )
                })
                .collect(),
            stale: report.stale_processes,
            unknown: report
                .unknown_rules
                .iter()
                .map(|r| self.rules.id(r))
                .collect(),
            stamp,
        };
        let superseded = replace_if_newer(&mut self.nodes, &node, slot, |s| &s.stamp);
        self.note_superseded(&node, "report", superseded);
    }

    fn add_update(&mut self, stamp: Stamp, record: UpdateRecord) {
        self.inputs.update_results += 1;
        let Some(node) = record.node.clone() else {
            self.unattributed(&stamp.file, "update result");
            return;
        };
        let superseded = replace_if_newer(
            &mut self.updates,
            &node,
            UpdateSlot { stamp, record },
            |s| &s.stamp,
        );
        self.note_superseded(&node, "update result", superseded);
    }

    fn add_status(&mut self, stamp: Stamp, record: StatusRecord) {
        self.inputs.update_statuses += 1;
        let Some(node) = record.node.clone() else {
            self.unattributed(&stamp.file, "update status");
            return;
        };
        let overdue = record
            .overdue
            .iter()
            .map(|(id, _)| self.advisory_ids.id(id))
            .collect();
        let superseded = replace_if_newer(
            &mut self.statuses,
            &node,
            StatusSlot { stamp, overdue },
            |s| &s.stamp,
        );
        self.note_superseded(&node, "update status", superseded);
    }

    fn unattributed(&mut self, file: &Path, what: &str) {
        self.inputs.unusable += 1;
        self.problems.push(Problem::new(
            file,
            format!(
                "{what} without a host block: cannot tell which node it is from (written by an \
                 hvguard older than the fleet report)"
            ),
        ));
    }

    fn note_superseded(&mut self, node: &str, what: &str, superseded: Option<(Stamp, Stamp)>) {
        if let Some((older, newer)) = superseded {
            self.problems.push(Problem::new(
                &older.file,
                format!(
                    "duplicate node {node}: superseded by the newer {what} {} (latest wins)",
                    newer.file.display()
                ),
            ));
        }
    }

    /// The report.
    pub fn finish(mut self, generated_at: String) -> FleetReport {
        let mut by_severity = BySeverity::default();
        let mut findings = Summary::default();
        // advisory id -> (nodes, kev, highest severity)
        let mut advisories: HashMap<u32, (u64, bool, Option<Severity>)> = HashMap::new();
        let mut overdue: HashMap<u32, u64> = HashMap::new();
        let mut versions: BTreeMap<(String, Option<String>), Vec<String>> = BTreeMap::new();
        let mut unknown: HashMap<u32, u64> = HashMap::new();
        let mut stale_processes = Vec::new();
        let mut hosts = Vec::with_capacity(self.nodes.len());
        let mut updates = Updates::default();

        for (node, slot) in &self.statuses {
            for id in slot.overdue.iter() {
                *overdue.entry(*id).or_default() += 1;
            }
            if !self.nodes.contains_key(node) {
                self.problems.push(Problem::new(
                    &slot.stamp.file,
                    format!("node {node} has an update status but no report"),
                ));
            }
        }
        for (node, slot) in &self.updates {
            *updates
                .results
                .entry(slot.record.result.clone())
                .or_default() += 1;
            if slot.record.needs_attention() {
                let (stage, detail) = match &slot.record.failed_stage {
                    Some((stage, detail)) => (Some(stage.clone()), Some(detail.clone())),
                    None => (None, None),
                };
                updates.attention.push(UpdateRow {
                    node: node.to_string(),
                    command: slot.record.command.clone(),
                    result: slot.record.result.clone(),
                    dry_run: slot.record.dry_run,
                    stage,
                    detail,
                    components: slot.record.components.clone(),
                    generated_at: slot.record.generated_at.clone(),
                    file: slot.stamp.file.clone(),
                });
            }
        }
        updates.attention.sort_by(|a, b| a.node.cmp(&b.node));

        let max_age = jiff::SignedDuration::from_hours(
            i64::try_from(self.max_age_hours).unwrap_or(i64::MAX / 3600),
        );
        for (node, slot) in &self.nodes {
            let worst = Severity::DESCENDING
                .into_iter()
                .find(|s| slot.summary.count(*s) > 0);
            by_severity.add(worst);
            for s in Severity::DESCENDING {
                add_count(&mut findings, s, slot.summary.count(s));
            }
            let mut kev = 0;
            for a in slot.advisories.iter() {
                let entry = advisories.entry(a.id).or_insert((0, false, None));
                entry.0 += 1;
                entry.1 |= a.kev;
                entry.2 = entry.2.max(Some(a.severity));
                kev += u64::from(a.kev);
            }
            let mut builds = Vec::with_capacity(slot.hypervisors.len());
            for (kind, version) in slot.hypervisors.iter() {
                let kind = self.names.name(*kind).to_owned();
                let version = version.map(|v| self.names.name(v).to_owned());
                builds.push(format!(
                    "{kind} {}",
                    version.as_deref().unwrap_or("(version unknown)")
                ));
                versions
                    .entry((kind, version))
                    .or_default()
                    .push(node.to_string());
            }
            builds.sort();
            builds.dedup();
            for rule in slot.unknown.iter() {
                *unknown.entry(*rule).or_default() += 1;
            }
            if slot.stale > 0 {
                stale_processes.push(StaleRow {
                    node: node.to_string(),
                    processes: u64::from(slot.stale),
                });
            }
            let outdated = match slot.stamp.at {
                Some(at) => {
                    let age = self.now.duration_since(at);
                    if age > max_age {
                        self.problems.push(Problem::new(
                            &slot.stamp.file,
                            format!(
                                "outdated: node {node}'s latest report is {} old (generated {}), \
                                 older than {} h",
                                human_age(age),
                                slot.generated_at,
                                self.max_age_hours
                            ),
                        ));
                        true
                    } else {
                        false
                    }
                }
                None => true,
            };
            hosts.push(HostRow {
                node: node.to_string(),
                worst,
                findings: slot.summary,
                advisories: slot.advisories.len() as u64,
                kev,
                overdue: self
                    .statuses
                    .get(node)
                    .map(|s| s.overdue.len() as u64)
                    .unwrap_or(0),
                stale_processes: u64::from(slot.stale),
                unknown: slot.unknown.len() as u64,
                hypervisors: builds,
                update: self.updates.get(node).map(|u| u.record.result.clone()),
                generated_at: slot.generated_at.to_string(),
                outdated,
                file: slot.stamp.file.clone(),
            });
        }
        hosts.sort_by(host_order);
        stale_processes.sort_by(|a, b| b.processes.cmp(&a.processes).then(a.node.cmp(&b.node)));

        // Advisories known only from an update status (none of the reports read lists them)
        // are still shown: their SLA is running.
        for id in overdue.keys() {
            advisories.entry(*id).or_insert((0, false, None));
        }
        let mut advisories: Vec<AdvisoryRow> = advisories
            .into_iter()
            .map(|(id, (nodes, kev, severity))| AdvisoryRow {
                id: self.advisory_ids.name(id).to_owned(),
                nodes,
                kev,
                overdue: overdue.get(&id).copied().unwrap_or(0),
                severity,
            })
            .collect();
        advisories.sort_by(|a, b| {
            b.kev
                .cmp(&a.kev)
                .then(b.overdue.cmp(&a.overdue))
                .then(b.severity.cmp(&a.severity))
                .then(b.nodes.cmp(&a.nodes))
                .then(a.id.cmp(&b.id))
        });

        let mut hypervisor_versions: Vec<VersionRow> = versions
            .into_iter()
            .map(|((kind, version), mut hosts)| {
                hosts.sort();
                hosts.dedup();
                VersionRow {
                    kind,
                    version,
                    nodes: hosts.len() as u64,
                    hosts,
                }
            })
            .collect();
        hypervisor_versions.sort_by(|a, b| {
            a.kind.cmp(&b.kind).then_with(|| {
                natural_cmp(
                    a.version.as_deref().unwrap_or(""),
                    b.version.as_deref().unwrap_or(""),
                )
            })
        });

        let mut unknown_checks: Vec<UnknownRow> = unknown
            .into_iter()
            .map(|(rule, nodes)| UnknownRow {
                rule: self.rules.name(rule).to_owned(),
                nodes,
            })
            .collect();
        unknown_checks.sort_by(|a, b| b.nodes.cmp(&a.nodes).then(a.rule.cmp(&b.rule)));

        self.problems.sort();
        self.problems.dedup();
        FleetReport {
            schema: FLEET_SCHEMA.to_owned(),
            generated_at,
            max_age_hours: self.max_age_hours,
            inputs: self.inputs,
            nodes: self.nodes.len() as u64,
            by_severity,
            findings,
            hosts,
            advisories,
            hypervisor_versions,
            stale_processes,
            updates,
            unknown_checks,
            problems: self.problems,
        }
    }
}

/// Keeps the newer of the entry in `map` and `slot`; returns (older, newer) stamps when one
/// replaced or beat the other.
fn replace_if_newer<T>(
    map: &mut HashMap<Box<str>, T>,
    node: &str,
    slot: T,
    stamp: impl Fn(&T) -> &Stamp,
) -> Option<(Stamp, Stamp)> {
    match map.get_mut(node) {
        None => {
            map.insert(node.into(), slot);
            None
        }
        Some(existing) => {
            if stamp(&slot) > stamp(existing) {
                let pair = (stamp(existing).clone(), stamp(&slot).clone());
                *existing = slot;
                Some(pair)
            } else {
                Some((stamp(&slot).clone(), stamp(existing).clone()))
            }
        }
    }
}

fn add_count(summary: &mut Summary, severity: Severity, n: usize) {
    match severity {
        Severity::Critical => summary.critical += n,
        Severity::High => summary.high += n,
        Severity::Medium => summary.medium += n,
        Severity::Low => summary.low += n,
        Severity::Info => summary.info += n,
    }
}

/// Worst node first: by worst severity (no finding last), then by the counts from critical
/// down, then by name.
fn host_order(a: &HostRow, b: &HostRow) -> Ordering {
    b.worst
        .cmp(&a.worst)
        .then_with(|| {
            Severity::DESCENDING
                .iter()
                .map(|s| b.findings.count(*s).cmp(&a.findings.count(*s)))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        })
        .then_with(|| a.node.cmp(&b.node))
}

/// `3d 4h`, `5h`, `12m`.
fn human_age(age: jiff::SignedDuration) -> String {
    let secs = age.as_secs().max(0);
    let (d, h, m) = (secs / 86_400, (secs % 86_400) / 3600, (secs % 3600) / 60);
    match (d, h) {
        (0, 0) => format!("{m}m"),
        (0, h) => format!("{h}h"),
        (d, h) => format!("{d}d {h}h"),
    }
}

/// Orders version strings so that `7.2.9 < 7.2.22 < 10.0.0`: runs of digits compare as
/// numbers, everything else as text.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, nb) = (trim_zeros(&a[..da]), trim_zeros(&b[..db]));
                let order = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
                if order.is_ne() {
                    return order;
                }
                a = &a[da..];
                b = &b[db..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let n = digits.iter().take_while(|d| **d == b'0').count();
    &digits[n..]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::input::document::{NodeAdvisory, NodeHypervisor};

    fn report(node: &str, at: &str, worst: Severity, advisories: &[(&str, bool)]) -> Document {
        let mut summary = Summary::default();
        add_count(&mut summary, worst, 1);
        Document::Report(NodeReport {
            node: Some(node.into()),
            generated_at: at.into(),
            summary,
            advisories: advisories
                .iter()
                .map(|(id, kev)| NodeAdvisory {
                    id: (*id).into(),
                    kev: *kev,
                    severity: worst,
                })
                .collect(),
            hypervisors: vec![NodeHypervisor {
                kind: "qemu".into(),
                version: Some(format!("7.2.{}", node.len())),
            }],
            stale_processes: 0,
            unknown_rules: vec!["host.secure-boot-disabled".into()],
        })
    }

    #[test]
    fn versions_order_naturally() {
        let mut v = vec!["10.0.0", "7.2.22", "7.2.9", "7.2.09a", "8.2.0-rc1"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, vec!["7.2.9", "7.2.09a", "7.2.22", "8.2.0-rc1", "10.0.0"]);
    }

    #[test]
    fn the_latest_report_of_a_node_wins_whatever_the_order() {
        let now: jiff::Timestamp = "2026-11-27T12:00:00Z".parse().unwrap();
        let docs = [
            (
                "a.json",
                report(
                    "n1",
                    "2026-11-27T10:00:00Z",
                    Severity::High,
                    &[("CVE-1", true)],
                ),
            ),
            (
                "b.json",
                report("n1", "2026-11-27T11:00:00Z", Severity::Low, &[]),
            ),
            (
                "c.json",
                report(
                    "n2",
                    "2026-11-20T11:00:00Z",
                    Severity::Medium,
                    &[("CVE-1", false)],
                ),
            ),
        ];
        for order in [[0, 1, 2], [1, 0, 2], [2, 1, 0]] {
            let mut agg = Aggregator::new(now, 24);
            for i in order {
                let (file, doc) = &docs[i];
                agg.add(PathBuf::from(file), Ok(doc.clone()));
            }
            let fleet = agg.finish("now".into());
            assert_eq!(fleet.nodes, 2);
            assert_eq!(fleet.by_severity.low, 1);
            assert_eq!(fleet.by_severity.medium, 1);
            assert_eq!(fleet.by_severity.high, 0);
            assert_eq!(fleet.advisories.len(), 1);
            assert_eq!(fleet.advisories[0].nodes, 1);
            assert!(
                !fleet.advisories[0].kev,
                "the KEV finding was in the superseded report"
            );
            assert_eq!(fleet.hosts[0].node, "n2");
            assert!(fleet.hosts[0].outdated);
            let reasons: Vec<String> = fleet
                .problems
                .iter()
                .map(|p| format!("{} {}", p.file.display(), p.reason))
                .collect();
            assert_eq!(reasons.len(), 2, "{reasons:?}");
            assert!(reasons[0]
                .starts_with("a.json duplicate node n1: superseded by the newer report b.json"));
            assert!(reasons[1].starts_with("c.json outdated: node n2's latest report is 7d 1h old"));
            assert_eq!(fleet.unknown_checks[0].nodes, 2);
        }
    }

    #[test]
    fn overdue_counts_come_from_update_statuses_and_results_are_counted() {
        let now: jiff::Timestamp = "2026-11-27T12:00:00Z".parse().unwrap();
        let mut agg = Aggregator::new(now, 24);
        agg.add(
            "r.json".into(),
            Ok(report(
                "n1",
                "2026-11-27T11:00:00Z",
                Severity::High,
                &[("CVE-1", false)],
            )),
        );
        agg.add(
            "s.json".into(),
            Ok(Document::UpdateStatus(StatusRecord {
                node: Some("n1".into()),
                generated_at: "2026-11-27T11:00:00Z".into(),
                overdue: vec![("CVE-1".into(), 3), ("CVE-7".into(), 1)],
            })),
        );
        agg.add(
            "u.json".into(),
            Ok(Document::UpdateResult(UpdateRecord {
                node: Some("n1".into()),
                generated_at: "2026-11-27T11:00:00Z".into(),
                command: "apply".into(),
                result: "rolled-back".into(),
                dry_run: false,
                components: vec![],
                failed_stage: Some(("verify".into(), "no boot".into())),
            })),
        );
        agg.add(
            "nohost.json".into(),
            Ok(Document::UpdateResult(UpdateRecord {
                node: None,
                generated_at: "2026-11-27T11:00:00Z".into(),
                command: "apply".into(),
                result: "updated".into(),
                dry_run: false,
                components: vec![],
                failed_stage: None,
            })),
        );
        agg.add("junk.json".into(), Err("not JSON".into()));
        let fleet = agg.finish("now".into());
        let ids: Vec<(&str, u64, u64)> = fleet
            .advisories
            .iter()
            .map(|a| (a.id.as_str(), a.nodes, a.overdue))
            .collect();
        assert_eq!(ids, vec![("CVE-1", 1, 1), ("CVE-7", 0, 1)]);
        assert_eq!(fleet.hosts[0].overdue, 2);
        assert_eq!(fleet.hosts[0].update.as_deref(), Some("rolled-back"));
        assert_eq!(fleet.updates.attention[0].stage.as_deref(), Some("verify"));
        assert_eq!(fleet.inputs.unusable, 2);
        assert_eq!(fleet.inputs.files, 5);
        assert!(fleet.read_anything());
    }
}
