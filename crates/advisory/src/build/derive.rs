//! Stable-branch and mainline fixes of QEMU advisories, derived from evidence:
//! - a Debian entry packaging a new upstream release (`* new upstream release (7.1)`) that
//!   closes the CVE: mainline 7.1.0 carries the fix;
//! - a Debian upstream merge (`* v7.2.11:`) listing a commit that names the CVE: the 7.2
//!   branch got the fix in 7.2.11; the commit's subject becomes a fix subject;
//! - a stable release mail naming the CVE (not as a regression of it), or listing every
//!   fix-commit subject: that series got the fix in the first release whose mail says so;
//! - a bound on the mainline fix: stable releases only take commits already in master, so
//!   the first mainline release after the earliest stable mail carrying the fix has it.

use std::collections::BTreeMap;

use jiff::civil::Date;

use super::announce::Announcement;
use super::debian::{StableMerge, UpstreamRelease};
use super::evidence::Release;
use crate::model::{Advisory, Event, FixFact, FixKind, Product};
use crate::subject::normalize;
use crate::version::{Version, VersionScheme};
use hvguard_core::changelog::cve_ids;

fn up(text: &str) -> Option<Version> {
    Version::parse(VersionScheme::Upstream, text).ok()
}

fn series_of(version: &str) -> Option<(u64, u64)> {
    match up(version)? {
        Version::Upstream(v) => {
            let r = v.release();
            Some((*r.first()?, r.get(1).copied().unwrap_or(0)))
        }
        _ => None,
    }
}

/// A candidate stable-branch fix.
#[derive(Debug, Clone)]
struct Candidate {
    version: String,
    source: String,
    /// The release's mail date, for the mainline bound.
    date: Option<Date>,
}

fn lower(a: &str, b: &str) -> bool {
    match (up(a), up(b)) {
        (Some(a), Some(b)) => a.compare(&b) == Some(std::cmp::Ordering::Less),
        _ => false,
    }
}

/// Adds the mainline fixes Debian's packaging of upstream releases records.
pub fn mainline_fixes(
    advisories: &mut [Advisory],
    packaged: &[UpstreamRelease<'_>],
    log: &mut Vec<String>,
) {
    for adv in advisories.iter_mut() {
        let ids: Vec<String> = std::iter::once(adv.id.clone())
            .chain(adv.aliases.iter().cloned())
            .collect();
        let Some(entry) = adv.products.iter_mut().find(|p| p.product == Product::Qemu) else {
            continue;
        };
        let mut best: Option<(&UpstreamRelease<'_>, String)> = None;
        for release in packaged {
            let named = cve_ids(&release.item.text);
            if !ids.iter().any(|id| named.contains(id)) {
                continue;
            }
            if best
                .as_ref()
                .is_none_or(|(b, _)| lower(&release.version, &b.version))
            {
                let source = format!(
                    "Debian qemu changelog, entry {} (line {}): '{}' (line {})",
                    release.entry.version, release.entry.line, release.item.text, release.item.line
                );
                best = Some((release, source));
            }
        }
        if let Some((release, source)) = best {
            log.push(format!(
                "{}: mainline fix in {} ({source})",
                adv.id, release.version
            ));
            entry.ranges.fixes.push(FixFact {
                scheme: VersionScheme::Upstream,
                version: release.version.clone(),
                kind: FixKind::Mainline,
                source,
            });
        }
    }
}

/// Adds the branch fixes and the mainline bound of every QEMU advisory.
pub fn stable_fixes(
    advisories: &mut [Advisory],
    merges: &[StableMerge<'_>],
    announcements: &[Announcement],
    releases: &[Release],
    log: &mut Vec<String>,
) {
    let dates: BTreeMap<&str, Date> = announcements
        .iter()
        .map(|a| (a.version.as_str(), a.date))
        .collect();
    for adv in advisories.iter_mut() {
        if !adv.products.iter().any(|p| p.product == Product::Qemu) {
            continue;
        }
        let ids: Vec<String> = std::iter::once(adv.id.clone())
            .chain(adv.aliases.iter().cloned())
            .collect();
        let mut per_series: BTreeMap<(u64, u64), Candidate> = BTreeMap::new();
        let offer = |c: Candidate, per_series: &mut BTreeMap<(u64, u64), Candidate>| {
            let Some(s) = series_of(&c.version) else {
                return;
            };
            match per_series.get(&s) {
                Some(old) if !lower(&c.version, &old.version) => {}
                _ => {
                    per_series.insert(s, c);
                }
            }
        };
        // 1. Debian's upstream merges naming the CVE.
        for merge in merges {
            for id in &ids {
                for item in merge.naming(id) {
                    let subject = normalize(&item.text);
                    // Debian sometimes hangs a merge-wide `Closes:` under the version bump
                    // (`- Update version for 7.2.5 release` / `Closes: CVE-2023-3354, ...`):
                    // the merge fixes the CVE, but that commit is not the fix.
                    let version_bump = subject.starts_with("update version for ");
                    if !subject.is_empty()
                        && !version_bump
                        && !adv.fix_subjects.iter().any(|s| normalize(s) == subject)
                    {
                        adv.fix_subjects.push(subject_text(&item.text));
                    }
                    offer(
                        Candidate {
                            version: merge.upstream.clone(),
                            source: format!(
                                "Debian qemu changelog, entry {} (line {}): the upstream {} merge lists '{}' (line {})",
                                merge.entry.version, merge.entry.line, merge.upstream, item.text, item.line
                            ),
                            date: dates.get(merge.upstream.as_str()).copied(),
                        },
                        &mut per_series,
                    );
                }
            }
        }
        // 2. Stable mails naming the CVE, or listing every fix subject.
        let subjects: Vec<String> = adv.fix_subjects.iter().map(|s| normalize(s)).collect();
        let mut by_series: BTreeMap<(u64, u64), Vec<&Announcement>> = BTreeMap::new();
        for a in announcements {
            if let Some(s) = series_of(&a.version) {
                by_series.entry(s).or_default().push(a);
            }
        }
        for mails in by_series.values_mut() {
            mails.sort_by(|a, b| {
                up(&a.version)
                    .zip(up(&b.version))
                    .and_then(|(x, y)| x.compare(&y))
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            if let Some(a) = mails
                .iter()
                .find(|a| ids.iter().any(|id| a.cves.contains(id)))
            {
                offer(
                    Candidate {
                        version: a.version.clone(),
                        source: format!("{} names {}", a.cite(), adv.id),
                        date: Some(a.date),
                    },
                    &mut per_series,
                );
            }
            if subjects.is_empty() {
                continue;
            }
            // Every subject must be listed; the fix is complete in the release that lists
            // the last of them.
            let mut last: Option<&Announcement> = None;
            let mut complete = true;
            for subject in &subjects {
                match mails.iter().find(|a| a.lists(subject)) {
                    Some(a) => {
                        if last.is_none_or(|l| lower(&l.version, &a.version)) {
                            last = Some(a);
                        }
                    }
                    None => complete = false,
                }
            }
            if let (true, Some(a)) = (complete, last) {
                let listed: Vec<String> =
                    adv.fix_subjects.iter().map(|s| format!("'{s}'")).collect();
                offer(
                    Candidate {
                        version: a.version.clone(),
                        source: format!(
                            "{} lists the fix commit{} {}",
                            a.cite(),
                            if listed.len() > 1 { "s" } else { "" },
                            listed.join(", ")
                        ),
                        date: Some(a.date),
                    },
                    &mut per_series,
                );
            }
        }
        if per_series.is_empty() {
            continue;
        }
        let Some(entry) = adv.products.iter_mut().find(|p| p.product == Product::Qemu) else {
            continue;
        };
        for c in per_series.values() {
            log.push(format!(
                "{}: fixed on the stable branch in {} ({})",
                adv.id, c.version, c.source
            ));
            entry.ranges.fixes.push(FixFact {
                scheme: VersionScheme::Upstream,
                version: c.version.clone(),
                kind: FixKind::Branch,
                source: c.source.clone(),
            });
        }
        // 3. A bound on the mainline fix, from the earliest dated stable evidence.
        let Some(first) = per_series
            .values()
            .filter(|c| c.date.is_some())
            .min_by_key(|c| c.date)
        else {
            continue;
        };
        let Some(date) = first.date else { continue };
        let Some(release) = releases
            .iter()
            .filter(|r| r.date > date)
            .min_by_key(|r| r.date)
        else {
            continue;
        };
        let mainline_known = entry
            .ranges
            .fixes
            .iter()
            .any(|f| f.kind != FixKind::Branch && !lower(&release.version, &f.version))
            || entry.ranges.ranges.iter().any(|r| {
                r.events.iter().any(|e| match e {
                    Event::Fixed(v) => v.ends_with(".0") && !lower(&release.version, v),
                    _ => false,
                })
            });
        if mainline_known {
            continue;
        }
        let source = format!(
            "derived: the {} stable release carries the fix by {date} ({}); stable releases only take commits already in master, so QEMU {} (released {}, {}) carries it",
            first.version, first.source, release.version, release.date, release.source
        );
        log.push(format!(
            "{}: fixed no later than {}",
            adv.id, release.version
        ));
        entry.ranges.fixes.push(FixFact {
            scheme: VersionScheme::Upstream,
            version: release.version.clone(),
            kind: FixKind::Bound,
            source,
        });
    }
}

/// The commit subject of a changelog item: the text before its `Closes:`/CVE trailers, in
/// the item's own case.
fn subject_text(item: &str) -> String {
    let normalized = normalize(item);
    // `normalize` lowercases; cut the original at the same number of words.
    let words = normalized.split(' ').count();
    item.split_whitespace()
        .take(words)
        .collect::<Vec<_>>()
        .join(" ")
}
