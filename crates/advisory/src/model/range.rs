//! Affected version ranges, OSV-style: a list of events per version scheme.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::version::{Version, VersionScheme};

/// One boundary of a range, as OSV writes it (`{"introduced": "0"}`), plus NVD's exclusive
/// start, which OSV cannot express.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// Versions from here on are affected; `"0"` means "since the beginning".
    Introduced(String),
    /// Versions strictly above this one are affected (NVD `versionStartExcluding`).
    IntroducedAfter(String),
    /// This version and later carry the fix.
    Fixed(String),
    /// This is the last affected version; later ones are not affected.
    LastAffected(String),
    /// Versions at or above this are outside the range, whatever else says.
    Limit(String),
}

impl Event {
    /// The version text this event names.
    pub fn version(&self) -> &str {
        match self {
            Event::Introduced(v)
            | Event::IntroducedAfter(v)
            | Event::Fixed(v)
            | Event::LastAffected(v)
            | Event::Limit(v) => v,
        }
    }

    fn is_start(&self) -> bool {
        matches!(self, Event::Introduced(_) | Event::IntroducedAfter(_))
    }
}

/// Whether an advisory affects a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Affected {
    /// A range of the version's scheme contains it.
    Yes,
    /// Ranges of the version's scheme exist and none contains it.
    No,
    /// Nothing to decide with: no range of this scheme, or a bound that does not parse.
    Unknown,
}

/// One range: events in one version scheme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    /// How the event versions are written and ordered.
    pub scheme: VersionScheme,
    /// The boundaries, in any order (they are sorted when evaluated).
    pub events: Vec<Event>,
}

/// The lowest possible version, as OSV writes `introduced`.
fn is_zero(text: &str) -> bool {
    text == "0"
}

impl Range {
    /// Evaluates the range for `version` with OSV's algorithm: walk the events in version
    /// order; a start at or below the version opens the range, a fix at or below it (or a
    /// last-affected below it) closes it.
    pub fn affects(&self, version: &Version) -> Affected {
        if version.scheme() != self.scheme {
            return Affected::Unknown;
        }
        if !self.events.iter().any(Event::is_start) {
            return Affected::Unknown;
        }
        let mut parsed = Vec::with_capacity(self.events.len());
        for event in &self.events {
            let bound = if is_zero(event.version()) && matches!(event, Event::Introduced(_)) {
                None
            } else {
                match Version::parse(self.scheme, event.version()) {
                    Ok(v) => Some(v),
                    Err(_) => return Affected::Unknown,
                }
            };
            parsed.push((event, bound));
        }
        parsed.sort_by(|(_, a), (_, b)| match (a, b) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(a), Some(b)) => a.compare(b).unwrap_or(Ordering::Equal),
        });
        let mut affected = false;
        let mut limited = false;
        for (event, bound) in &parsed {
            let order = match bound {
                None => Ordering::Greater,
                Some(b) => match version.compare(b) {
                    Some(o) => o,
                    None => return Affected::Unknown,
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
        if affected && !limited {
            Affected::Yes
        } else {
            Affected::No
        }
    }
}

/// An exactly named affected version (OSV `versions`, an NVD CPE with a fixed version).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExactVersion {
    /// The scheme the version is written in.
    pub scheme: VersionScheme,
    /// The affected version.
    pub version: String,
}

/// Every range and exact version known for one product of an advisory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ranges {
    /// Affected ranges.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<Range>,
    /// Exactly named affected versions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<ExactVersion>,
}

impl Ranges {
    /// True when no range and no version is known: the advisory says nothing about versions.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty() && self.versions.is_empty()
    }

    /// Decides whether `version` is affected. An empty set, or one with nothing in the
    /// version's scheme, is `Unknown`: never "all versions", never "none".
    pub fn affects(&self, version: &Version) -> Affected {
        let mut applicable = false;
        let mut unknown = false;
        for range in self.ranges.iter().filter(|r| r.scheme == version.scheme()) {
            applicable = true;
            match range.affects(version) {
                Affected::Yes => return Affected::Yes,
                Affected::Unknown => unknown = true,
                Affected::No => {}
            }
        }
        for exact in self
            .versions
            .iter()
            .filter(|e| e.scheme == version.scheme())
        {
            applicable = true;
            match Version::parse(exact.scheme, &exact.version) {
                Ok(v) if v.compare(version) == Some(Ordering::Equal) => return Affected::Yes,
                Ok(_) => {}
                Err(_) => unknown = true,
            }
        }
        if !applicable || unknown {
            Affected::Unknown
        } else {
            Affected::No
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(s: &str) -> Version {
        match Version::parse(VersionScheme::Upstream, s) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    fn range(events: Vec<Event>) -> Ranges {
        Ranges {
            ranges: vec![Range {
                scheme: VersionScheme::Upstream,
                events,
            }],
            versions: Vec::new(),
        }
    }

    #[test]
    fn empty_ranges_are_unknown_not_all_nor_none() {
        let empty = Ranges::default();
        assert!(empty.is_empty());
        assert_eq!(empty.affects(&up("7.2.22")), Affected::Unknown);
        assert_eq!(empty.affects(&up("0.1")), Affected::Unknown);
    }

    #[test]
    fn introduced_fixed() {
        let r = range(vec![
            Event::Introduced("8.1.0".into()),
            Event::Fixed("10.1.3".into()),
        ]);
        assert_eq!(r.affects(&up("8.0.9")), Affected::No);
        assert_eq!(r.affects(&up("8.1.0")), Affected::Yes);
        assert_eq!(r.affects(&up("10.1.2")), Affected::Yes);
        assert_eq!(r.affects(&up("10.1.3")), Affected::No);
    }

    #[test]
    fn last_affected_and_zero() {
        let r = range(vec![
            Event::Introduced("0".into()),
            Event::LastAffected("3.0.1".into()),
        ]);
        assert_eq!(r.affects(&up("0.15")), Affected::Yes);
        assert_eq!(r.affects(&up("3.0.1")), Affected::Yes);
        assert_eq!(r.affects(&up("3.0.2")), Affected::No);
    }

    #[test]
    fn exclusive_start_and_limit() {
        let r = range(vec![
            Event::IntroducedAfter("1.0".into()),
            Event::Limit("2.0".into()),
        ]);
        assert_eq!(r.affects(&up("1.0")), Affected::No);
        assert_eq!(r.affects(&up("1.5")), Affected::Yes);
        assert_eq!(r.affects(&up("2.1")), Affected::No);
    }

    #[test]
    fn other_scheme_or_bad_bound_is_unknown() {
        let r = range(vec![
            Event::Introduced("0".into()),
            Event::Fixed("5.2.0".into()),
        ]);
        let deb = Version::parse(VersionScheme::Dpkg, "1:7.2+dfsg-7");
        assert!(matches!(deb.map(|d| r.affects(&d)), Ok(Affected::Unknown)));
        let bad = range(vec![
            Event::Introduced("0".into()),
            Event::Fixed("n/a".into()),
        ]);
        assert_eq!(bad.affects(&up("1.0")), Affected::Unknown);
        let no_start = range(vec![Event::Fixed("5.2.0".into())]);
        assert_eq!(no_start.affects(&up("1.0")), Affected::Unknown);
    }

    #[test]
    fn exact_versions() {
        let r = Ranges {
            ranges: Vec::new(),
            versions: vec![ExactVersion {
                scheme: VersionScheme::Upstream,
                version: "5.0.0".into(),
            }],
        };
        assert_eq!(r.affects(&up("5.0")), Affected::Yes);
        assert_eq!(r.affects(&up("5.0.1")), Affected::No);
    }
}
