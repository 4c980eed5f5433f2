//! How [`Ranges`] place one version (`Ranges::assess`): the rules of the module
//! documentation of `range.rs`, in order, each naming the data that decided.

use std::cmp::Ordering;

use super::range::{Affected, Assessment, Event, FixKind, Range, Ranges};
use crate::version::Version;

/// The lowest possible version, as OSV writes `introduced`.
fn is_zero(text: &str) -> bool {
    text == "0"
}

fn with_source(text: String, source: Option<&str>) -> String {
    match source {
        Some(s) => format!("{text} ({s})"),
        None => text,
    }
}

/// `x.y` of an upstream or SemVer version: the stable series it belongs to.
fn series(version: &Version) -> Option<(u64, u64)> {
    match version {
        Version::Upstream(v) | Version::Semver(v) => {
            let r = v.release();
            Some((*r.first()?, r.get(1).copied().unwrap_or(0)))
        }
        Version::Dpkg(_) | Version::Rpm(_) => None,
    }
}

fn at_or_above(v: &Version, bound: &Version) -> bool {
    v.compare(bound).is_some_and(|o| o != Ordering::Less)
}

fn above(v: &Version, bound: &Version) -> bool {
    v.compare(bound) == Some(Ordering::Greater)
}

/// A range with its bounds parsed.
struct Parsed<'a> {
    range: &'a Range,
    /// `(event, bound)`; `None` for `introduced 0`. Sorted by bound.
    events: Vec<(&'a Event, Option<Version>)>,
}

impl<'a> Parsed<'a> {
    fn new(range: &'a Range) -> Result<Self, String> {
        let mut events = Vec::with_capacity(range.events.len());
        for event in &range.events {
            let bound = if is_zero(event.version()) && matches!(event, Event::Introduced(_)) {
                None
            } else {
                Some(
                    Version::parse(range.scheme, event.version())
                        .map_err(|e| format!("bound {:?} does not parse: {e}", event.version()))?,
                )
            };
            events.push((event, bound));
        }
        events.sort_by(|(_, a), (_, b)| match (a, b) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(a), Some(b)) => a.compare(b).unwrap_or(Ordering::Equal),
        });
        Ok(Parsed { range, events })
    }

    fn text(&self) -> String {
        format!(
            "[{}]",
            self.range
                .events
                .iter()
                .map(Event::describe)
                .collect::<Vec<_>>()
                .join(", ")
        )
    }

    /// OSV's walk: a start at or below `v` opens the range, a fix at or below it (or a
    /// last-affected below it) closes it, a limit at or below it ends it.
    fn contains(&self, v: &Version) -> bool {
        if !self.range.events.iter().any(Event::is_start) {
            return false;
        }
        let mut affected = false;
        let mut limited = false;
        for (event, bound) in &self.events {
            let order = match bound {
                None => Ordering::Greater,
                Some(b) => match v.compare(b) {
                    Some(o) => o,
                    None => return false,
                },
            };
            match event {
                Event::Introduced(_) if order != Ordering::Less => affected = true,
                Event::IntroducedAfter(_) if order == Ordering::Greater => affected = true,
                Event::Fixed(_) if order != Ordering::Less => affected = false,
                Event::LastAffected(_) if order == Ordering::Greater => affected = false,
                Event::Limit(_) if order != Ordering::Less => limited = true,
                _ => {}
            }
        }
        affected && !limited
    }

    /// True when the range that contains `v` ends in a real fix (not a cut-off).
    fn ends_in_fix_above(&self, v: &Version) -> Option<&'a str> {
        self.events
            .iter()
            .find_map(|(event, bound)| match (event, bound) {
                (Event::Fixed(text), Some(b)) if above(b, v) => Some(text.as_str()),
                _ => None,
            })
    }

    /// True when the range's first affected version lies above `v`: `v` is below an
    /// explicit start, or equal to an exclusive one.
    fn starts_above(&self, v: &Version) -> bool {
        let Some(start) = self.start() else {
            return false;
        };
        let exclusive = self
            .events
            .iter()
            .any(|(e, b)| matches!(e, Event::IntroducedAfter(_)) && b.as_ref() == Some(start));
        above(start, v) || (exclusive && start.compare(v) == Some(Ordering::Equal))
    }

    /// The lowest explicit start (`None` when the range starts at 0 or has no start).
    fn start(&self) -> Option<&Version> {
        let mut lowest: Option<&Version> = None;
        for (event, bound) in &self.events {
            if !event.is_start() {
                continue;
            }
            let b = bound.as_ref()?;
            if lowest.is_none_or(|l| b.compare(l) == Some(Ordering::Less)) {
                lowest = Some(b);
            }
        }
        lowest
    }

    fn fixed_bounds(&self) -> impl Iterator<Item = (&'a str, &Version)> + '_ {
        self.events
            .iter()
            .filter_map(|(event, bound)| match (event, bound) {
                (Event::Fixed(text), Some(b)) => Some((text.as_str(), b)),
                _ => None,
            })
    }

    fn last_affected(&self) -> impl Iterator<Item = (&'a str, &Version)> + '_ {
        self.events
            .iter()
            .filter_map(|(event, bound)| match (event, bound) {
                (Event::LastAffected(text), Some(b)) => Some((text.as_str(), b)),
                _ => None,
            })
    }
}

impl Ranges {
    /// Decides whether `version` is affected and says why (module documentation).
    pub fn assess(&self, v: &Version) -> Assessment {
        let scheme = v.scheme();
        let mut parsed = Vec::new();
        for range in self.ranges.iter().filter(|r| r.scheme == scheme) {
            match Parsed::new(range) {
                Ok(p) => parsed.push(p),
                Err(why) => return Assessment::new(Affected::Unknown, why),
            }
        }
        let mut exact = Vec::new();
        for e in self.versions.iter().filter(|e| e.scheme == scheme) {
            match Version::parse(scheme, &e.version) {
                Ok(parsed) => exact.push((e, parsed)),
                Err(err) => return Assessment::new(Affected::Unknown, err.to_string()),
            }
        }
        let mut fixes = Vec::new();
        for f in self.fixes.iter().filter(|f| f.scheme == scheme) {
            match Version::parse(scheme, &f.version) {
                Ok(parsed) => fixes.push((f, parsed)),
                Err(err) => return Assessment::new(Affected::Unknown, err.to_string()),
            }
        }
        if parsed.is_empty() && exact.is_empty() && fixes.is_empty() {
            return Assessment::new(
                Affected::Unknown,
                format!("no affected range in the {scheme} scheme"),
            );
        }
        let lowest_fix_above = |kinds: &[FixKind]| {
            fixes
                .iter()
                .filter(|(f, b)| kinds.contains(&f.kind) && above(b, v))
                .min_by(|(_, a), (_, b)| a.compare(b).unwrap_or(Ordering::Equal))
                .map(|(f, _)| f.version.clone())
        };

        // 1. A fact about the version's own stable branch is the most specific evidence.
        if let Some(s) = series(v) {
            let branch = fixes
                .iter()
                .filter(|(f, b)| f.kind == FixKind::Branch && series(b) == Some(s))
                .min_by(|(_, a), (_, b)| a.compare(b).unwrap_or(Ordering::Equal));
            if let Some((f, b)) = branch {
                let (series_text, source) = (format!("{}.{}", s.0, s.1), &f.source);
                return if at_or_above(v, b) {
                    Assessment {
                        affected: Affected::No,
                        reason: format!(
                            "{v} is at or above {} where the {series_text} stable branch got the fix ({source})",
                            f.version
                        ),
                        fixed_in: Some(f.version.clone()),
                        range: None,
                    }
                } else {
                    Assessment {
                        affected: Affected::Yes,
                        reason: format!(
                            "the {series_text} stable branch got the fix only in {} ({source}); {v} is below it",
                            f.version
                        ),
                        fixed_in: Some(f.version.clone()),
                        range: None,
                    }
                };
            }
        }

        // 2. A range ending in a real fix, or an exactly named version, that holds `v`.
        for p in &parsed {
            if p.contains(v) {
                if let Some(fix) = p.ends_in_fix_above(v) {
                    return Assessment {
                        affected: Affected::Yes,
                        reason: with_source(
                            format!("{v} is inside the affected range {}", p.text()),
                            p.range.source.as_deref(),
                        ),
                        fixed_in: Some(fix.to_owned()),
                        range: Some(p.text()),
                    };
                }
            }
        }
        if let Some((e, _)) = exact
            .iter()
            .find(|(_, b)| v.compare(b) == Some(Ordering::Equal))
        {
            return Assessment {
                affected: Affected::Yes,
                reason: with_source(
                    format!("{v} is named as an affected version"),
                    e.source.as_deref(),
                ),
                fixed_in: lowest_fix_above(&[FixKind::Mainline, FixKind::Bound]),
                range: None,
            };
        }

        // 3. A mainline fix (or a bound on it) at or below the version.
        if let Some((f, _)) = fixes
            .iter()
            .filter(|(f, b)| f.kind != FixKind::Branch && at_or_above(v, b))
            .min_by(|(_, a), (_, b)| a.compare(b).unwrap_or(Ordering::Equal))
        {
            return Assessment {
                affected: Affected::No,
                reason: format!(
                    "{v} is at or above {} ({}: {})",
                    f.version,
                    f.kind.as_str(),
                    f.source
                ),
                fixed_in: Some(f.version.clone()),
                range: None,
            };
        }

        // 4. A cut-off range (ending in last_affected) that holds the version.
        for p in &parsed {
            if p.contains(v) {
                return Assessment {
                    affected: Affected::Yes,
                    reason: with_source(
                        format!("{v} is inside the affected range {}", p.text()),
                        p.range.source.as_deref(),
                    ),
                    fixed_in: lowest_fix_above(&[FixKind::Mainline, FixKind::Bound]),
                    range: Some(p.text()),
                };
            }
        }

        // 5. A real fix at or below the version clears it, unless something known affected
        //    lies between that fix and the version (another branch, a later exact version).
        let known_affected: Vec<&Version> = exact
            .iter()
            .map(|(_, b)| b)
            .chain(
                parsed
                    .iter()
                    .flat_map(|p| p.last_affected().map(|(_, b)| b)),
            )
            .chain(parsed.iter().filter_map(Parsed::start))
            .collect();
        let mut clearing: Option<(&str, &Parsed<'_>)> = None;
        for p in &parsed {
            for (text, fix) in p.fixed_bounds() {
                let reopened = known_affected
                    .iter()
                    .any(|k| above(k, fix) && at_or_above(v, k));
                let starts_below = p.start().is_none_or(|s| at_or_above(fix, s));
                if at_or_above(v, fix) && starts_below && !reopened {
                    clearing = Some((text, p));
                }
            }
        }
        if let Some((text, p)) = clearing {
            return Assessment {
                affected: Affected::No,
                reason: with_source(
                    format!(
                        "{v} is at or above the fix {text} of the range {}",
                        p.text()
                    ),
                    p.range.source.as_deref(),
                ),
                fixed_in: Some(text.to_owned()),
                range: Some(p.text()),
            };
        }

        // 6. Below every explicit start, with nothing named lower: not yet introduced.
        let every_range_starts_later =
            !parsed.is_empty() && parsed.iter().all(|p| p.starts_above(v));
        let nothing_named_lower = exact.iter().all(|(_, b)| above(b, v))
            && fixes
                .iter()
                .all(|(f, b)| f.kind != FixKind::Branch || above(b, v));
        if every_range_starts_later && nothing_named_lower {
            let first = parsed
                .iter()
                .min_by(|a, b| {
                    let (a, b) = (a.start(), b.start());
                    match (a, b) {
                        (Some(a), Some(b)) => a.compare(b).unwrap_or(Ordering::Equal),
                        _ => Ordering::Equal,
                    }
                })
                .map(|p| (p.text(), p.range.source.clone()));
            let (text, source) = first.unwrap_or_default();
            return Assessment {
                affected: Affected::No,
                reason: with_source(
                    format!("{v} is below the first affected version of {text}"),
                    source.as_deref(),
                ),
                fixed_in: None,
                range: Some(text),
            };
        }

        // 7. Nothing places the version: say where the data stops.
        let cut = parsed
            .iter()
            .flat_map(|p| p.last_affected().map(move |(t, b)| (t, b, p)))
            .filter(|(_, b, _)| above(v, b))
            .max_by(|(_, a, _), (_, b, _)| a.compare(b).unwrap_or(Ordering::Equal));
        let reason = if let Some((text, _, p)) = cut {
            with_source(
                format!(
                    "known affected up to {text} by {}; {v} is above it and nothing says whether it carries the fix",
                    p.text()
                ),
                p.range.source.as_deref(),
            )
        } else if !exact.is_empty() {
            let named: Vec<&str> = exact.iter().map(|(e, _)| e.version.as_str()).collect();
            format!(
                "only {} named as affected; nothing is known about {v}",
                named.join(", ")
            )
        } else if let Some((f, _)) = fixes
            .iter()
            .find(|(f, b)| f.kind == FixKind::Bound && above(b, v))
        {
            format!(
                "fixed no later than {} ({}), but whether {v} already carries the fix is not known",
                f.version, f.source
            )
        } else {
            format!("no range, named version or fix places {v}")
        };
        Assessment {
            affected: Affected::Unknown,
            reason,
            fixed_in: lowest_fix_above(&[FixKind::Mainline, FixKind::Bound]),
            range: None,
        }
    }
}
