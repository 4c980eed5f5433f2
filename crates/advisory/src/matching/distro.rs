//! A packaged binary judged by its distribution's data: the security tracker's verdict for
//! the host's release (or, when no tracker speaks, what the changelog of the version the
//! package manager offers says it fixed), then the installed package's changelog (CVE ids
//! it names, `Reopens:` it records, and the fix-commit subjects of upstream stable merges).

use std::cell::OnceCell;
use std::cmp::Ordering;
use std::collections::BTreeMap;

use hvguard_core::{ChangelogEntry, ChangelogItem, PackageManager, PackageRef, Snapshot};

use super::{Decision, DecisionSource, DecisionStatus};
use crate::{Advisory, DistroFix, DistroStatus, Version, VersionScheme};

/// The distro and release the host runs, from os-release.
#[derive(Debug, Clone, Default)]
pub struct Distro<'a> {
    /// `ID` (`debian`, `ubuntu`, `rhel`).
    pub id: Option<&'a str>,
    /// `VERSION_CODENAME` then `VERSION_ID`: the names a tracker may use for the release.
    pub releases: Vec<&'a str>,
}

impl<'a> Distro<'a> {
    /// Reads the os-release facts of `snapshot`.
    pub fn of(snapshot: &'a Snapshot) -> Self {
        let Some(os) = snapshot.host.os.value() else {
            return Distro::default();
        };
        Distro {
            id: Some(os.id.as_str()),
            releases: os
                .version_codename
                .iter()
                .chain(os.version_id.iter())
                .map(String::as_str)
                .collect(),
        }
    }

    /// The first release name, for messages.
    pub fn release(&self) -> &str {
        self.releases
            .first()
            .copied()
            .unwrap_or("(unknown release)")
    }

    /// The distro name, for messages.
    pub fn name(&self) -> &str {
        self.id.unwrap_or("the distribution")
    }
}

/// Where a changelog says a CVE was fixed (after any later `Reopens:`).
#[derive(Debug, Clone, Copy)]
pub struct ChangelogFix<'a> {
    /// The entry naming the fix.
    pub entry: &'a ChangelogEntry,
    /// The older entry that had reopened the CVE before this fix, if any.
    pub after_reopen: Option<&'a ChangelogEntry>,
}

/// What is known about the package owning a target, prepared once per target.
#[derive(Debug)]
pub struct PackageFacts<'a> {
    /// The owning package.
    pub package: &'a PackageRef,
    /// The installed source version in the package manager's ordering.
    pub installed: Option<Version>,
    /// Why `installed` is missing.
    pub installed_error: Option<String>,
    /// CVE id -> the entry (at or below the installed version) where the fix arrived: the
    /// oldest naming it after the last entry that reopened it.
    pub fixed: BTreeMap<&'a str, ChangelogFix<'a>>,
    /// CVE id -> the entry that reopened it last, when no later entry fixed it again.
    pub reopened: BTreeMap<&'a str, &'a ChangelogEntry>,
    /// The entries at or below the installed version, oldest first.
    eligible: Vec<&'a ChangelogEntry>,
    /// Change items of the eligible entries by their first word in lower case, oldest
    /// entry first; built on first use (only advisories decided by fix-commit subjects need
    /// it). Keying by the first word keeps the work per lookup to a handful of items instead
    /// of normalising the thousands a changelog holds.
    items: OnceCell<BTreeMap<String, Vec<(&'a ChangelogEntry, &'a ChangelogItem)>>>,
    /// The package whose changelog was read.
    pub changelog_of: Option<&'a str>,
}

fn scheme_of(manager: PackageManager) -> VersionScheme {
    match manager {
        PackageManager::Dpkg => VersionScheme::Dpkg,
        PackageManager::Rpm => VersionScheme::Rpm,
    }
}

/// The changelog to read for `package`: its own, else a sibling's from the same source.
fn changelog_for<'a>(
    snapshot: &'a Snapshot,
    package: &PackageRef,
) -> Option<(&'a str, &'a [ChangelogEntry])> {
    if let Some((name, entries)) = snapshot.changelogs.get_key_value(&package.name) {
        return Some((name.as_str(), entries.as_slice()));
    }
    let installed = snapshot.packages.value()?;
    installed
        .iter()
        .filter(|p| p.source_name == package.source)
        .find_map(|p| snapshot.changelogs.get_key_value(&p.name))
        .map(|(name, entries)| (name.as_str(), entries.as_slice()))
}

impl<'a> PackageFacts<'a> {
    /// Parses the installed version and indexes the changelog entries at or below it.
    pub fn new(snapshot: &'a Snapshot, package: &'a PackageRef) -> Self {
        let scheme = scheme_of(package.manager);
        let (installed, installed_error) = match Version::parse(scheme, &package.source_version) {
            Ok(v) => (Some(v), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let mut facts = PackageFacts {
            package,
            installed,
            installed_error,
            fixed: BTreeMap::new(),
            reopened: BTreeMap::new(),
            eligible: Vec::new(),
            items: OnceCell::new(),
            changelog_of: None,
        };
        let (Some(installed), Some((name, entries))) =
            (&facts.installed, changelog_for(snapshot, package))
        else {
            return facts;
        };
        facts.changelog_of = Some(name);
        // Changelogs run newest first: walk them oldest first so that a reopen cancels the
        // fixes before it and a later fix re-establishes one.
        for entry in entries.iter().rev() {
            let Ok(version) = Version::parse(scheme, &entry.version) else {
                continue;
            };
            if version.compare(installed) == Some(Ordering::Greater) {
                continue;
            }
            for cve in &entry.cves {
                let after_reopen = facts.reopened.remove(cve.as_str());
                facts.fixed.entry(cve.as_str()).or_insert(ChangelogFix {
                    entry,
                    after_reopen,
                });
            }
            for cve in &entry.reopens {
                facts.fixed.remove(cve.as_str());
                facts.reopened.insert(cve.as_str(), entry);
            }
            facts.eligible.push(entry);
        }
        facts
    }

    /// The oldest eligible entry listing the commit whose normalised subject is `subject`.
    pub fn listing(&self, subject: &str) -> Option<(&'a ChangelogEntry, &'a ChangelogItem)> {
        let first = subject.split(' ').next()?;
        let items = self.items.get_or_init(|| {
            let mut items: BTreeMap<String, Vec<_>> = BTreeMap::new();
            for entry in &self.eligible {
                for item in &entry.items {
                    if let Some(word) = item.text.split_whitespace().next() {
                        let word: String = word.chars().flat_map(char::to_lowercase).collect();
                        items.entry(word).or_default().push((*entry, item));
                    }
                }
            }
            items
        });
        items
            .get(first)?
            .iter()
            .find(|(_, item)| crate::subject::same(subject, &item.text))
            .copied()
    }
}

/// The ids an advisory is known by, its own first.
fn ids(advisory: &Advisory) -> impl Iterator<Item = &str> {
    std::iter::once(advisory.id.as_str()).chain(advisory.aliases.iter().map(String::as_str))
}

/// The distro tracker's fact for this host's release and the package's source, if any.
pub fn tracker_fact<'a>(
    advisory: &'a Advisory,
    package: &PackageRef,
    distro: &Distro<'_>,
) -> Option<&'a DistroFix> {
    let id = distro.id?;
    // A tracker's verdict wins over one read from a newer package's changelog.
    advisory
        .distro
        .iter()
        .filter(|f| {
            f.distro.eq_ignore_ascii_case(id)
                && distro.releases.contains(&f.release.as_str())
                && f.package == package.source
        })
        .min_by_key(|f| f.changelog.is_some())
}

fn decided(
    base: &Decision,
    status: DecisionStatus,
    source: DecisionSource,
    evidence: String,
    fixed_in: Option<String>,
) -> Decision {
    let mut d = base.clone();
    d.status = status;
    d.source = source;
    d.evidence = evidence;
    d.fixed_in = fixed_in;
    d
}

/// Every fix subject of the advisory found among the changelog's items: the entry where the
/// last of them arrived, when all are there.
fn by_subjects<'a>(
    advisory: &Advisory,
    facts: &PackageFacts<'a>,
) -> Option<(&'a ChangelogEntry, Vec<&'a ChangelogItem>)> {
    if advisory.fix_subjects.is_empty() {
        return None;
    }
    let mut latest: Option<&'a ChangelogEntry> = None;
    let mut items = Vec::new();
    for subject in &advisory.fix_subjects {
        let (entry, item) = facts.listing(&crate::subject::normalize(subject))?;
        items.push(item);
        // Entries come from one changelog: a later one has a lower line number.
        if latest.is_none_or(|l| entry.line < l.line) {
            latest = Some(entry);
        }
    }
    latest.map(|e| (e, items))
}

/// Decides from the distro tracker and the changelog; `None` when both are silent.
pub fn by_distro(
    advisory: &Advisory,
    facts: &PackageFacts<'_>,
    distro: &Distro<'_>,
    base: &Decision,
) -> Option<Decision> {
    let package = facts.package;
    let installed = facts.installed.as_ref()?;
    let fact = tracker_fact(advisory, package, distro);
    let tracker_source = |f: &DistroFix| match (&f.changelog, &f.fixed_version) {
        // A fact read from the changelog of a newer package than the installed one
        // (`hvguard update status`): the package manager's candidate, not a tracker.
        (Some(c), Some(v)) => DecisionSource::Changelog {
            package: c.package.clone(),
            version: v.clone(),
            line: c.line,
        },
        _ => DecisionSource::DistroTracker {
            distro: f.distro.clone(),
            release: f.release.clone(),
            package: f.package.clone(),
            status: f.status,
            fixed_version: f.fixed_version.clone(),
        },
    };
    let said_by = |f: &DistroFix| match &f.changelog {
        Some(c) => format!(
            "changelog.Debian.gz of {} {} (the version the package manager offers, line {})",
            c.package, c.package_version, c.line
        ),
        None => format!("{} tracker", f.distro),
    };
    let mut pending_vulnerable = None;
    if let Some(f) = fact {
        let fixed = f.fixed_version.as_deref();
        let fixed_parsed = fixed.and_then(|v| Version::parse(installed.scheme(), v).ok());
        let at_or_above = fixed_parsed
            .as_ref()
            .and_then(|v| installed.compare(v))
            .map(|o| o != Ordering::Less);
        match (f.status, fixed, at_or_above) {
            (DistroStatus::NotAffected, _, _) | (DistroStatus::Fixed, Some("0"), _) => {
                return Some(decided(
                    base,
                    DecisionStatus::NotAffected,
                    tracker_source(f),
                    format!(
                        "{} tracker: {} in {} was never affected",
                        f.distro, f.package, f.release
                    ),
                    None,
                ));
            }
            (DistroStatus::Fixed, Some(v), Some(true)) => {
                return Some(decided(
                    base,
                    DecisionStatus::FixedByBackport,
                    tracker_source(f),
                    format!(
                        "{}: fixed in {} {v} for {}; installed source version {} is at or above it",
                        said_by(f),
                        f.package,
                        f.release,
                        package.source_version
                    ),
                    Some(v.to_owned()),
                ));
            }
            (DistroStatus::Fixed, Some(v), Some(false)) => {
                pending_vulnerable = Some(decided(
                    base,
                    DecisionStatus::Vulnerable,
                    tracker_source(f),
                    format!(
                        "{}: fixed in {} {v} for {}; installed source version {} is below it",
                        said_by(f),
                        f.package,
                        f.release,
                        package.source_version
                    ),
                    Some(v.to_owned()),
                ));
            }
            (DistroStatus::Open | DistroStatus::Unimportant | DistroStatus::EndOfLife, _, _) => {
                let why = match f.status {
                    DistroStatus::Open => "open, no fix released yet",
                    DistroStatus::Unimportant => "affected, rated unimportant (no fix planned)",
                    _ => "affected, release out of security support",
                };
                pending_vulnerable = Some(decided(
                    base,
                    DecisionStatus::Vulnerable,
                    tracker_source(f),
                    format!(
                        "{} tracker: {} in {} is {why}; installed source version {}",
                        f.distro, f.package, f.release, package.source_version
                    ),
                    None,
                ));
            }
            // Undetermined, or a fixed version that does not parse: the tracker is silent.
            _ => {}
        }
    }
    let of = facts.changelog_of.unwrap_or(&package.name);
    let disagrees = |evidence: &mut String| {
        if let Some(v) = &pending_vulnerable {
            let who = match v.source {
                DecisionSource::Changelog { .. } => "the package manager's candidate",
                _ => "the tracker",
            };
            evidence.push_str(&format!("; {who} disagrees ({})", v.evidence));
        }
    };
    if let Some((cve, fix)) = ids(advisory).find_map(|id| facts.fixed.get_key_value(id)) {
        let entry = fix.entry;
        let mut evidence = format!(
            "changelog.Debian.gz of {of}: entry {} (line {}) names {cve}, at or below the installed source version {}",
            entry.version, entry.line, package.source_version
        );
        if let Some(reopen) = fix.after_reopen {
            evidence.push_str(&format!(
                " (entry {}, line {}, had reopened it)",
                reopen.version, reopen.line
            ));
        }
        disagrees(&mut evidence);
        return Some(decided(
            base,
            DecisionStatus::FixedByBackport,
            DecisionSource::Changelog {
                package: of.to_owned(),
                version: entry.version.clone(),
                line: entry.line,
            },
            evidence,
            Some(entry.version.clone()),
        ));
    }
    if let Some((entry, items)) = by_subjects(advisory, facts) {
        let listed: Vec<String> = items
            .iter()
            .map(|i| format!("'{}' (line {})", i.text, i.line))
            .collect();
        let mut evidence = format!(
            "changelog.Debian.gz of {of}: entry {} lists the fix commit{} {} without naming {}, at or below the installed source version {}",
            entry.version,
            if items.len() > 1 { "s" } else { "" },
            listed.join(", "),
            advisory.id,
            package.source_version
        );
        disagrees(&mut evidence);
        return Some(decided(
            base,
            DecisionStatus::FixedByBackport,
            DecisionSource::ChangelogSubject {
                package: of.to_owned(),
                version: entry.version.clone(),
                line: items.first().map_or(entry.line, |i| i.line),
                subject: items.first().map(|i| i.text.clone()).unwrap_or_default(),
            },
            evidence,
            Some(entry.version.clone()),
        ));
    }
    if pending_vulnerable.is_none() {
        if let Some((cve, entry)) = ids(advisory).find_map(|id| facts.reopened.get_key_value(id)) {
            return Some(decided(
                base,
                DecisionStatus::Vulnerable,
                DecisionSource::Changelog {
                    package: of.to_owned(),
                    version: entry.version.clone(),
                    line: entry.line,
                },
                format!(
                    "changelog.Debian.gz of {of}: entry {} (line {}) reopens {cve} and no later entry up to the installed source version {} fixes it again",
                    entry.version, entry.line, package.source_version
                ),
                None,
            ));
        }
    }
    pending_vulnerable
}
