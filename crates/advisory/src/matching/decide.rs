//! The decision for one (advisory, target): distro data and the package changelog first for
//! a packaged binary, the upstream range otherwise (DESIGN.md §7).

use std::collections::BTreeMap;

use hvguard_core::{ChangelogEntry, PackageManager, PackageRef, Snapshot};

use super::target::Target;
use super::{Decision, DecisionSource, DecisionStatus};
use crate::{Advisory, Affected, DistroFix, DistroStatus, Event, Version, VersionScheme};

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
    fn release(&self) -> &str {
        self.releases
            .first()
            .copied()
            .unwrap_or("(unknown release)")
    }
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
    /// CVE id -> the lowest changelog entry at or below the installed version naming it.
    pub fixed: BTreeMap<&'a str, &'a ChangelogEntry>,
    /// The package whose changelog was read.
    pub changelog_of: Option<&'a str>,
}

/// A target with its versions parsed, ready to be judged against many advisories.
#[derive(Debug)]
pub struct Prepared<'a> {
    /// The target.
    pub target: Target<'a>,
    /// The upstream version, leniently parsed.
    pub upstream: Option<Version>,
    /// The upstream version as SemVer, for advisories whose ranges are SemVer.
    pub semver: Option<Version>,
    /// The owning package, if any.
    pub package: Option<PackageFacts<'a>>,
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

impl<'a> Prepared<'a> {
    /// Parses the target's versions and indexes its changelog.
    pub fn new(snapshot: &'a Snapshot, target: Target<'a>) -> Self {
        let upstream = target
            .version
            .and_then(|v| Version::parse(VersionScheme::Upstream, v).ok());
        let semver = target
            .version
            .and_then(|v| Version::parse(VersionScheme::Semver, v).ok());
        let package = target.package.map(|package| {
            let scheme = scheme_of(package.manager);
            let (installed, installed_error) = match Version::parse(scheme, &package.source_version)
            {
                Ok(v) => (Some(v), None),
                Err(e) => (None, Some(e.to_string())),
            };
            let mut fixed: BTreeMap<&'a str, &'a ChangelogEntry> = BTreeMap::new();
            let mut changelog_of = None;
            if let (Some(installed), Some((name, entries))) =
                (&installed, changelog_for(snapshot, package))
            {
                changelog_of = Some(name);
                for entry in entries {
                    let Ok(version) = Version::parse(scheme, &entry.version) else {
                        continue;
                    };
                    if version.compare(installed) == Some(std::cmp::Ordering::Greater) {
                        continue;
                    }
                    // Changelogs run newest first: a later (older) entry is the first fix.
                    for cve in &entry.cves {
                        fixed.insert(cve.as_str(), entry);
                    }
                }
            }
            PackageFacts {
                package,
                installed,
                installed_error,
                fixed,
                changelog_of,
            }
        });
        Prepared {
            target,
            upstream,
            semver,
            package,
        }
    }
}

/// The ids an advisory is known by, its own first.
fn ids(advisory: &Advisory) -> impl Iterator<Item = &str> {
    std::iter::once(advisory.id.as_str()).chain(advisory.aliases.iter().map(String::as_str))
}

fn events_text(events: &[Event]) -> String {
    events
        .iter()
        .map(|e| match e {
            Event::Introduced(v) => format!("introduced {v}"),
            Event::IntroducedAfter(v) => format!("introduced after {v}"),
            Event::Fixed(v) => format!("fixed {v}"),
            Event::LastAffected(v) => format!("last_affected {v}"),
            Event::Limit(v) => format!("limit {v}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Judges `advisory` for `prepared`; `None` when the advisory is not about the target's
/// product (or is filtered out for it).
pub fn decide(
    advisory: &Advisory,
    prepared: &Prepared<'_>,
    distro: &Distro<'_>,
) -> Option<Decision> {
    let target = &prepared.target;
    if !advisory
        .products
        .iter()
        .any(|p| p.product == target.product)
        || !target.filter.admits(advisory.component.as_deref())
    {
        return None;
    }
    let mut base = Decision {
        advisory: advisory.id.clone(),
        binary: target.path.to_path_buf(),
        product: target.product.name(),
        installed: installed_text(prepared),
        status: DecisionStatus::Unknown,
        source: DecisionSource::None,
        evidence: String::new(),
        fixed_in: None,
    };
    if let Some(facts) = &prepared.package {
        if let Some(decided) = by_distro(advisory, facts, distro, &mut base) {
            return Some(decided);
        }
    }
    Some(by_upstream(advisory, prepared, distro, base))
}

fn installed_text(prepared: &Prepared<'_>) -> String {
    let upstream = prepared.target.version.unwrap_or("unknown");
    match prepared.target.package {
        Some(p) => format!(
            "{upstream} (package {} {}, source {} {})",
            p.name, p.version, p.source, p.source_version
        ),
        None => upstream.to_owned(),
    }
}

/// The distro tracker's fact for this host's release and the package's source, if any.
fn tracker_fact<'a>(
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

/// Decides from the distro tracker and the changelog; `None` when both are silent.
fn by_distro(
    advisory: &Advisory,
    facts: &PackageFacts<'_>,
    distro: &Distro<'_>,
    base: &mut Decision,
) -> Option<Decision> {
    let package = facts.package;
    let installed = facts.installed.as_ref()?;
    let fact = tracker_fact(advisory, package, distro);
    let tracker_source = |f: &DistroFix| match (&f.changelog, &f.fixed_version) {
        // A fact read from the changelog of a newer package than the installed one.
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
    let decided = |status, source, evidence: String, fixed_in: Option<String>| {
        let mut d = base.clone();
        d.status = status;
        d.source = source;
        d.evidence = evidence;
        d.fixed_in = fixed_in;
        d
    };
    let mut pending_vulnerable = None;
    if let Some(f) = fact {
        let fixed = f.fixed_version.as_deref();
        let fixed_parsed = fixed.and_then(|v| Version::parse(installed.scheme(), v).ok());
        let at_or_above = fixed_parsed
            .as_ref()
            .and_then(|v| installed.compare(v))
            .map(|o| o != std::cmp::Ordering::Less);
        match (f.status, fixed, at_or_above) {
            (DistroStatus::NotAffected, _, _) | (DistroStatus::Fixed, Some("0"), _) => {
                return Some(decided(
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
    if let Some((cve, entry)) = ids(advisory).find_map(|id| facts.fixed.get_key_value(id)) {
        let of = facts.changelog_of.unwrap_or(&package.name);
        let mut evidence = format!(
            "changelog.Debian.gz of {of}: entry {} (line {}) names {cve}, at or below the installed source version {}",
            entry.version, entry.line, package.source_version
        );
        if let Some(v) = &pending_vulnerable {
            evidence.push_str(&format!("; the tracker disagrees ({})", v.evidence));
        }
        return Some(decided(
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
    pending_vulnerable
}

/// Decides from the upstream ranges with the target's upstream version.
fn by_upstream(
    advisory: &Advisory,
    prepared: &Prepared<'_>,
    distro: &Distro<'_>,
    mut d: Decision,
) -> Decision {
    let target = &prepared.target;
    let silent = prepared.package.as_ref().map(|facts| {
        let p = facts.package;
        let mut why = format!(
            "{} data silent for {} in {}",
            distro.id.unwrap_or("distro"),
            p.source,
            distro.release()
        );
        match (&facts.installed_error, facts.changelog_of) {
            (Some(e), _) => why.push_str(&format!(", installed version unusable: {e}")),
            (None, Some(of)) => why.push_str(&format!(", changelog of {of} names no fix")),
            (None, None) => why.push_str(", no changelog"),
        }
        why
    });
    let Some(version_text) = target.version else {
        d.evidence = format!(
            "{} version unknown (found from {}): cannot judge",
            target.product, target.version_from
        );
        return d;
    };
    let entries: Vec<_> = advisory
        .products
        .iter()
        .filter(|p| p.product == target.product)
        .collect();
    if entries.iter().all(|p| p.ranges.is_empty()) {
        d.evidence = format!(
            "the advisory gives no affected range for {} (unknown: never 'all versions', never 'not affected')",
            target.product
        );
        return d;
    }
    let candidates = [prepared.upstream.as_ref(), prepared.semver.as_ref()];
    let mut verdict = Affected::Unknown;
    let mut used = None;
    for version in candidates.into_iter().flatten() {
        verdict = advisory.affects(&target.product, version);
        if verdict != Affected::Unknown {
            used = Some(version);
            break;
        }
    }
    let containing = used.and_then(|v| {
        entries
            .iter()
            .flat_map(|p| p.ranges.ranges.iter())
            .find(|r| r.affects(v) == Affected::Yes)
    });
    let all_events = entries
        .iter()
        .flat_map(|p| p.ranges.ranges.iter())
        .map(|r| format!("[{}]", events_text(&r.events)))
        .collect::<Vec<_>>()
        .join(" ");
    let events = containing.map_or(all_events, |r| format!("[{}]", events_text(&r.events)));
    d.source = DecisionSource::UpstreamRange {
        events: events.clone(),
        version_from: target.version_from.clone(),
    };
    let prefix = match &silent {
        Some(why) => format!("judged by upstream range: {why}; "),
        None => String::new(),
    };
    match verdict {
        Affected::Yes => {
            d.status = DecisionStatus::Vulnerable;
            d.fixed_in = containing.and_then(|r| {
                r.events.iter().find_map(|e| match e {
                    Event::Fixed(v) => Some(v.clone()),
                    _ => None,
                })
            });
            d.evidence = format!(
                "{prefix}{} {version_text} (from {}) is inside the upstream range {events}",
                target.product, target.version_from
            );
        }
        Affected::No => {
            d.status = DecisionStatus::NotAffected;
            d.evidence = format!(
                "{prefix}{} {version_text} (from {}) is outside the upstream ranges {events}",
                target.product, target.version_from
            );
        }
        Affected::Unknown => {
            d.source = DecisionSource::None;
            d.evidence = format!(
                "{prefix}{} {version_text} cannot be placed in the upstream ranges {events} (no range of its scheme, or a bound that does not parse)",
                target.product
            );
        }
    }
    d
}
