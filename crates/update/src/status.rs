//! `hvguard update status`: per component the installed version, the candidate, what the
//! candidate fixes and the SLA of every open advisory (`hvguard.update-status/v1`).
//!
//! What a packaged candidate fixes is read from its own changelog: the candidate `.deb`s are
//! downloaded and unpacked into staging (never installed), the entries newer than the
//! installed version give the CVEs, and those are recorded in the advisory store as
//! package-changelog evidence — from then on `scan` judges the installed package by them
//! too. The CVEs are joined with the store for severity, KEV and relevance.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hvguard_advisory::matching::match_snapshot;
use hvguard_advisory::policy::Policy;
use hvguard_advisory::store::{load_advisories, AdvisoryOrigin, ChangelogEvidence, Store};
use hvguard_advisory::{Advisory, Product, Version, VersionScheme};
use hvguard_core::{Finding, HypervisorKind, PackageManager, Severity, Snapshot};
use jiff::civil::Date;
use serde::Serialize;

use crate::apt::Apt;
use crate::components::{self, PackagePlan};
use crate::journal::{read_journal, TxRecord};
use crate::sla;
use crate::staging;
use crate::state::StateDirs;
use crate::UpdateError;

pub const STATUS_SCHEMA: &str = "hvguard.update-status/v1";

/// An advisory the candidate fixes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    pub id: String,
    pub severity: Severity,
    pub kev: bool,
    pub relevance: String,
    /// Where the knowledge came from (`changelog of qemu-system-x86 ...`, `tracker`, `range`).
    pub evidence: String,
}

/// An open advisory and its SLA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Overdue {
    pub id: String,
    pub severity: Severity,
    pub published: String,
    pub due: String,
    pub days_overdue: i64,
}

/// One component as `status` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentStatus {
    /// `qemu`, `kata`, ...
    pub kind: String,
    /// `dpkg`, `rpm`, `kata-static`.
    pub manager: String,
    pub package: String,
    pub source: Option<String>,
    pub installed: String,
    pub candidate: Option<String>,
    pub fixes: Vec<Fix>,
    /// Open advisories past their SLA due date.
    pub overdue: Vec<Overdue>,
    /// Open advisories still within their SLA (with the date they fall due).
    pub open: Vec<Overdue>,
    pub paths: Vec<PathBuf>,
    /// Every binary package that moves with the component.
    pub packages: Vec<PackagePlan>,
    pub note: Option<String>,
}

/// An unfinished transaction found in the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Interrupted {
    pub transaction: String,
    pub kind: String,
    pub started_at: String,
    pub stage: Option<String>,
    pub pid: u32,
    pub remedy: String,
}

/// `hvguard.update-status/v1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    pub schema: String,
    pub generated_at: String,
    pub components: Vec<ComponentStatus>,
    pub interrupted: Vec<Interrupted>,
    /// CVEs recorded in the store from candidate changelogs in this run.
    pub evidence_recorded: usize,
    /// `store:PATH` or `shipped`.
    pub advisories_from: String,
    pub warnings: Vec<String>,
    /// The node it ran on (see [`crate::result::UpdateResult::host`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<hvguard_core::ReportHost>,
}

impl StatusReport {
    /// 1 when an advisory is past its SLA or a transaction was interrupted, else 0.
    pub fn exit_code(&self) -> u8 {
        let overdue = self.components.iter().any(|c| !c.overdue.is_empty());
        u8::from(overdue || !self.interrupted.is_empty())
    }
}

/// What `status` needs.
#[derive(Debug)]
pub struct StatusInput<'a> {
    pub snapshot: &'a Snapshot,
    pub apt: &'a Apt,
    pub policy: &'a Policy,
    /// The advisory store (which also holds the journal).
    pub store: &'a Path,
    pub state: &'a StateDirs,
    pub today: Date,
    /// Download and read candidate changelogs (off: only what the store already knows).
    pub read_candidates: bool,
}

/// The interrupted transactions of the journal at `store`.
pub fn interrupted(store: &Path) -> Result<Vec<Interrupted>, UpdateError> {
    Ok(read_journal(store)?
        .iter()
        .filter(|t| t.is_interrupted())
        .map(describe_interrupted)
        .collect())
}

fn describe_interrupted(t: &TxRecord) -> Interrupted {
    let remedy = if t.artifacts.is_empty() {
        "no rollback artifacts were saved: check `dpkg --audit`, then run `hvguard update rollback` to close it".to_owned()
    } else {
        "run `hvguard update rollback` to reinstall the saved versions".to_owned()
    };
    Interrupted {
        transaction: t.id.clone(),
        kind: t.kind.clone(),
        started_at: t.started_at.clone(),
        stage: t.open_stage().map(|s| s.name.clone()),
        pid: t.pid,
        remedy,
    }
}

fn distro_release(snapshot: &Snapshot) -> Option<(String, String)> {
    let os = snapshot.host.os.value()?;
    Some((os.id.clone(), os.version_codename.clone()?))
}

/// What the host would look like with a component's candidate installed.
#[derive(Debug, Default)]
struct CandidateView {
    /// package -> (version, source version).
    packages: BTreeMap<String, (String, String)>,
    /// The candidate's changelog, by the package it was read from.
    changelog: Option<(String, Vec<hvguard_core::ChangelogEntry>)>,
    /// binary path -> (upstream version, banner) of the staged copy.
    banners: BTreeMap<PathBuf, (String, String)>,
}

/// The Snapshot with every candidate view applied: the matcher run on it says what would
/// still be open after the update, whatever decided (tracker, changelog or upstream range).
fn candidate_snapshot(snapshot: &Snapshot, views: &[CandidateView]) -> Snapshot {
    let mut out = snapshot.clone();
    for view in views {
        if let hvguard_core::Probe::Found { value: packages } = &mut out.packages {
            for p in packages.iter_mut() {
                if let Some((v, sv)) = view.packages.get(&p.name) {
                    p.version = v.clone();
                    p.source_version = sv.clone();
                }
            }
        }
        for h in &mut out.hypervisors {
            if let Some(pkg) = h.package.as_mut() {
                if let Some((v, sv)) = view.packages.get(&pkg.name) {
                    pkg.version = v.clone();
                    pkg.source_version = sv.clone();
                }
            }
            if let Some((version, banner)) = view.banners.get(&h.path) {
                h.version = Some(version.clone());
                h.version_evidence = Some(banner.clone());
            }
        }
        if let Some((name, entries)) = &view.changelog {
            out.changelogs.insert(name.clone(), entries.clone());
        }
    }
    out
}

/// Builds the status report.
pub fn status(input: &StatusInput<'_>) -> Result<StatusReport, UpdateError> {
    let mut warnings = Vec::new();
    let packaged = components::packaged(input.snapshot, input.apt, &input.policy.update)?;
    let mut views = Vec::new();
    let mut evidence = Vec::new();
    let release = distro_release(input.snapshot);
    for component in packaged
        .iter()
        .filter(|c| c.manager == PackageManager::Dpkg)
    {
        let pins = component.pins();
        if pins.is_empty() {
            continue;
        }
        let mut view = CandidateView::default();
        for (name, version) in &pins {
            view.packages
                .insert(name.clone(), (version.clone(), version.clone()));
        }
        if input.read_candidates {
            let name = format!("status-{}-{}", component.source, std::process::id());
            match staging::stage(input.apt, &input.state.staging(), &name, &pins) {
                Ok(staged) => {
                    for deb in &staged.debs {
                        view.packages.insert(
                            deb.package.clone(),
                            (deb.version.clone(), deb.source_version.clone()),
                        );
                    }
                    for path in &component.paths {
                        // Each binary carries its own program's banner.
                        let kind = input
                            .snapshot
                            .hypervisors
                            .iter()
                            .find(|h| &h.path == path)
                            .map_or(component.kind, |h| h.kind);
                        if let Some(b) = staged.banner(path, kind) {
                            view.banners.insert(path.clone(), b);
                        }
                    }
                    match staged.changelog(&mut warnings) {
                        Some((deb, entries)) => {
                            let newer = staging::newer_than(&entries, &component.installed_source);
                            for entry in &newer {
                                for cve in &entry.cves {
                                    if let Some((distro, codename)) = &release {
                                        evidence.push(ChangelogEvidence {
                                            cve: cve.clone(),
                                            distro: distro.clone(),
                                            release: codename.clone(),
                                            source_package: component.source.clone(),
                                            fixed_version: entry.version.clone(),
                                            read_from_package: deb.package.clone(),
                                            read_from_version: deb.version.clone(),
                                            line: entry.line,
                                        });
                                    }
                                }
                            }
                            view.changelog = Some((deb.package.clone(), entries));
                        }
                        None => warnings.push(format!(
                            "the staged candidate of {} has no readable changelog",
                            component.source
                        )),
                    }
                    staged.remove();
                }
                Err(e) => warnings.push(format!(
                    "candidate of {} not read (judged by its version alone): {e}",
                    component.source
                )),
            }
        }
        views.push(view);
    }
    // Entries are newest first: keep the oldest entry naming a CVE, the first fix.
    let mut first_fix: BTreeMap<(String, String), ChangelogEvidence> = BTreeMap::new();
    for e in evidence {
        first_fix.insert((e.cve.clone(), e.source_package.clone()), e);
    }
    let evidence: Vec<ChangelogEvidence> = first_fix.into_values().collect();
    let mut evidence_recorded = 0;
    if !evidence.is_empty() {
        let now = crate::transaction::now();
        match Store::open_or_create(input.store)
            .and_then(|mut s| s.record_changelog_evidence(&evidence, &now))
        {
            Ok(n) => evidence_recorded = n,
            Err(e) => warnings.push(format!(
                "candidate changelog evidence not recorded (scan will not know it): {e}"
            )),
        }
    }
    let (advisories, origin) = load_advisories(input.store)?;
    let by_id: BTreeMap<&str, &Advisory> = advisories.iter().map(|a| (a.id.as_str(), a)).collect();
    let matched = match_snapshot(input.snapshot, &advisories, input.policy, input.today);
    let after = candidate_snapshot(input.snapshot, &views);
    let still = match_snapshot(&after, &advisories, input.policy, input.today);
    // A finding stands for every binary of its package with that verdict.
    let still_open: BTreeSet<(PathBuf, String)> = still
        .findings
        .iter()
        .flat_map(|f| {
            let id = f.advisory.as_ref().map(|a| a.id.clone());
            finding_binaries(f)
                .into_iter()
                .filter_map(move |b| Some((b, id.clone()?)))
        })
        .collect();

    let mut components = Vec::new();
    for c in &packaged {
        let findings: Vec<&Finding> = matched
            .findings
            .iter()
            .filter(|f| finding_binaries(f).iter().any(|b| c.paths.contains(b)))
            .collect();
        let fixed_by_candidate = |f: &Finding| -> Option<String> {
            let cand = c.candidate.as_deref().filter(|_| c.has_update())?;
            let id = f.advisory.as_ref()?.id.clone();
            let open = finding_binaries(f)
                .into_iter()
                .any(|b| still_open.contains(&(b, id.clone())));
            (!open).then(|| {
                let decided = still
                    .decisions
                    .iter()
                    .find(|d| {
                        Some(&d.advisory) == f.advisory.as_ref().map(|a| &a.id)
                            && c.paths.contains(&d.binary)
                    })
                    .map(|d| d.evidence.clone())
                    .unwrap_or_default();
                format!("not open with candidate {cand}: {decided}")
            })
        };
        let (fixes, overdue, open) = sla_and_fixes(
            &findings,
            &by_id,
            input.policy,
            input.today,
            fixed_by_candidate,
        );
        components.push(ComponentStatus {
            kind: c.kind.as_str().to_owned(),
            manager: match c.manager {
                PackageManager::Dpkg => "dpkg".into(),
                PackageManager::Rpm => "rpm".into(),
            },
            package: c.package.clone(),
            source: Some(c.source.clone()),
            installed: c.installed.clone(),
            candidate: c.candidate.clone(),
            fixes,
            overdue,
            open,
            paths: c.paths.clone(),
            packages: c.packages.clone(),
            note: c.note.clone(),
        });
    }
    if let Some(kata) = components::kata_static(input.snapshot) {
        components.push(kata_status(
            input.snapshot,
            &kata,
            &matched.findings,
            &by_id,
            input,
        ));
    }
    Ok(StatusReport {
        schema: STATUS_SCHEMA.into(),
        generated_at: crate::transaction::now(),
        components,
        interrupted: interrupted(input.store)?,
        evidence_recorded,
        advisories_from: match origin {
            AdvisoryOrigin::Store(p) => format!("store:{}", p.display()),
            AdvisoryOrigin::Shipped => "shipped".into(),
        },
        warnings,
        host: None,
    })
}

/// The binaries a finding is about: an advisory finding lists every binary of its package
/// with the same verdict; any other finding, its location.
fn finding_binaries(f: &Finding) -> Vec<PathBuf> {
    match &f.advisory {
        Some(a) if !a.binaries.is_empty() => a.binaries.clone(),
        _ => f.location.iter().map(|l| l.path.clone()).collect(),
    }
}

type Split = (Vec<Fix>, Vec<Overdue>, Vec<Overdue>);

/// From the vulnerable findings of one component: what the candidate fixes, and each open
/// advisory's SLA (overdue or still open; the rule is [`sla`]'s). One entry per advisory id
/// (the worst severity over the component's binaries). Accepted risks have no SLA.
fn sla_and_fixes(
    findings: &[&Finding],
    by_id: &BTreeMap<&str, &Advisory>,
    policy: &Policy,
    today: Date,
    fixed_by_candidate: impl Fn(&Finding) -> Option<String>,
) -> Split {
    let (mut fixes, mut overdue, mut open) = (Vec::new(), Vec::new(), Vec::new());
    for (id, f) in sla::worst_per_advisory(findings.iter().copied()) {
        let Some(a) = &f.advisory else { continue };
        if let Some(evidence) = fixed_by_candidate(f) {
            fixes.push(Fix {
                id: id.clone(),
                severity: f.severity,
                kev: a.kev,
                relevance: a.relevance.clone(),
                evidence,
            });
        }
        let Some(d) = sla::deadline(&id, f, by_id, &policy.update, today) else {
            continue;
        };
        let entry = Overdue {
            id,
            severity: d.severity,
            published: d.published.to_string(),
            due: d.due.to_string(),
            days_overdue: d.days_overdue,
        };
        if d.is_overdue() {
            overdue.push(entry);
        } else {
            open.push(entry);
        }
    }
    (fixes, overdue, open)
}

fn kata_status(
    snapshot: &Snapshot,
    kata: &components::KataStatic,
    findings: &[Finding],
    by_id: &BTreeMap<&str, &Advisory>,
    input: &StatusInput<'_>,
) -> ComponentStatus {
    let table = hvguard_host::hypervisors::kata_versions::KataVersions::bundled().ok();
    let candidate = kata.newer.last().cloned();
    let paths: Vec<PathBuf> = snapshot
        .hypervisors
        .iter()
        .filter(|h| h.kata_release.is_some())
        .map(|h| h.path.clone())
        .chain(snapshot.kata_install.value().map(|k| k.path.clone()))
        .collect();
    let kind_at = |path: &Path| -> Option<(HypervisorKind, Product)> {
        let h = snapshot.hypervisors.iter().find(|h| h.path == path)?;
        let product = match h.kind {
            // Kata 2.x bundles QEMU's C virtiofsd, built from the bundled QEMU.
            HypervisorKind::Qemu | HypervisorKind::QemuVirtiofsd => Product::Qemu,
            HypervisorKind::Firecracker | HypervisorKind::Jailer => Product::Firecracker,
            HypervisorKind::CloudHypervisor => Product::CloudHypervisor,
            HypervisorKind::StratoVirt => Product::StratoVirt,
            _ => return None,
        };
        Some((h.kind, product))
    };
    let mine: Vec<&Finding> = findings
        .iter()
        .filter(|f| finding_binaries(f).iter().any(|b| paths.contains(b)))
        .collect();
    let fixed_by_candidate = |f: &Finding| -> Option<String> {
        let candidate = candidate.as_deref()?;
        let a = f.advisory.as_ref()?;
        let advisory = by_id.get(a.id.as_str())?;
        let path = &f.location.as_ref()?.path;
        let (product, version) = match kind_at(path) {
            Some((kind, product)) => (
                product,
                table.as_ref()?.bundled_version(candidate, kind)?.to_owned(),
            ),
            None => (Product::Kata, candidate.to_owned()),
        };
        let v = Version::parse(VersionScheme::Upstream, &version).ok()?;
        (advisory.affects(&product, &v) == hvguard_advisory::Affected::No).then(|| {
            format!(
                "Kata {candidate} bundles {} {version}, outside the affected range",
                product.name()
            )
        })
    };
    let (fixes, overdue, open) =
        sla_and_fixes(&mine, by_id, input.policy, input.today, fixed_by_candidate);
    ComponentStatus {
        kind: "kata".into(),
        manager: "kata-static".into(),
        package: "kata-static".into(),
        source: None,
        installed: kata.installed.clone(),
        candidate,
        fixes,
        overdue,
        open,
        paths,
        packages: Vec::new(),
        note: (!kata.newer.is_empty()).then(|| {
            format!(
                "newer releases in hvguard's release table: {}; apply one with `hvguard update apply --kata-tarball FILE --sha256 HEX`",
                kata.newer.join(", ")
            )
        }),
    }
}

impl StatusReport {
    /// Plain text for people.
    pub fn render_text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        for c in &self.components {
            let _ = writeln!(
                out,
                "{} {} ({}{}): installed {}, candidate {}",
                c.kind,
                c.package,
                c.manager,
                c.source
                    .as_deref()
                    .map(|s| format!(", source {s}"))
                    .unwrap_or_default(),
                c.installed,
                c.candidate.as_deref().unwrap_or("none")
            );
            for p in c.packages.iter().filter(|p| p.changes()) {
                let _ = writeln!(
                    out,
                    "  moves: {} {} -> {}",
                    p.name,
                    p.installed,
                    p.candidate.as_deref().unwrap_or("?")
                );
            }
            for f in &c.fixes {
                let _ = writeln!(
                    out,
                    "  fixes {} [{}{}] {} ({})",
                    f.id,
                    f.severity,
                    if f.kev { ", KEV" } else { "" },
                    f.relevance,
                    f.evidence
                );
            }
            for o in &c.overdue {
                let _ = writeln!(
                    out,
                    "  OVERDUE {} [{}] published {}, due {}, {} days overdue",
                    o.id, o.severity, o.published, o.due, o.days_overdue
                );
            }
            for o in &c.open {
                let _ = writeln!(out, "  open {} [{}] due {}", o.id, o.severity, o.due);
            }
            if let Some(note) = &c.note {
                let _ = writeln!(out, "  note: {note}");
            }
        }
        if self.components.is_empty() {
            let _ = writeln!(out, "no packaged or static hypervisor found");
        }
        for i in &self.interrupted {
            let _ = writeln!(
                out,
                "INTERRUPTED transaction {} ({}, started {}, pid {} gone{}): {}",
                i.transaction,
                i.kind,
                i.started_at,
                i.pid,
                i.stage
                    .as_deref()
                    .map(|s| format!(", in stage {s}"))
                    .unwrap_or_default(),
                i.remedy
            );
        }
        if self.evidence_recorded > 0 {
            let _ = writeln!(
                out,
                "{} CVE(s) from candidate changelogs recorded in the advisory store (scan uses them)",
                self.evidence_recorded
            );
        }
        out
    }
}
