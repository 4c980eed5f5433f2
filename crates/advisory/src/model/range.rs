//! Affected version ranges, and what they let a matcher conclude.
//!
//! Ranges come from feeds (OSV-style events per version scheme) and from evidence about
//! where a fix landed (`fixes`: a stable branch, a mainline release, or an upper bound on
//! the mainline release). Every range, exact version and fix records its source.
//!
//! The data says different things and is read for what it says (docs/advisory-matching.md,
//! "Ranges"):
//! - a range ending in `fixed` F: versions in [start, F) are affected, and F is a real fix;
//! - a range ending in `last_affected` L (NVD's `versionEndIncluding`): versions up to L are
//!   known affected; above L nothing is known (NVD stopped analysing there);
//! - an exact version: that version is known affected, nothing else is implied;
//! - a stable-branch fix x.y.N: x.y.0 .. x.y.(N-1) are affected and x.y.N onward are fixed;
//! - a mainline fix M (or a bound: "fixed no later than M"): M and later are fixed.
//!
//! "Not affected" is only ever concluded from a fix at or below the version, from a start
//! above it, or from a branch fact: never from the absence of data.

use serde::{Deserialize, Serialize};

use crate::version::{Version, VersionScheme};

/// One boundary of a range, as OSV writes it (`{"introduced": "0"}`), plus NVD's exclusive
/// start, which OSV cannot express.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// Versions from here on are affected; `"0"` means "since the beginning".
    Introduced(String),
    /// Versions strictly above this one are affected (NVD `versionStartExcluding`).
    IntroducedAfter(String),
    /// This version and later carry the fix.
    Fixed(String),
    /// The last version known to be affected; what lies above is not known.
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

    pub(super) fn is_start(&self) -> bool {
        matches!(self, Event::Introduced(_) | Event::IntroducedAfter(_))
    }

    /// `introduced 0`, `fixed 9.1.0`, ... as evidence writes it.
    pub fn describe(&self) -> String {
        match self {
            Event::Introduced(v) => format!("introduced {v}"),
            Event::IntroducedAfter(v) => format!("introduced after {v}"),
            Event::Fixed(v) => format!("fixed {v}"),
            Event::LastAffected(v) => format!("last_affected {v}"),
            Event::Limit(v) => format!("limit {v}"),
        }
    }
}

/// Whether an advisory affects a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Affected {
    /// The data places the version among the affected ones.
    Yes,
    /// A fix at or below the version, a start above it, or a branch fact clears it.
    No,
    /// Nothing to decide with: no data of this scheme, a bound that does not parse, or a
    /// version above where the data stops.
    Unknown,
}

/// One range: events in one version scheme.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Range {
    /// How the event versions are written and ordered.
    pub scheme: VersionScheme,
    /// The boundaries, in any order (they are sorted when evaluated).
    pub events: Vec<Event>,
    /// Where this range came from (`NVD CPE cpe:2.3:a:qemu:qemu:* versionEndIncluding 8.0.3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// An exactly named affected version (OSV `versions`, an NVD CPE with a fixed version).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ExactVersion {
    /// The scheme the version is written in.
    pub scheme: VersionScheme,
    /// The affected version.
    pub version: String,
    /// Where it was named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// What a fix fact says about the releases around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FixKind {
    /// Fixed on one stable branch (series `x.y`) from this release on; earlier releases of
    /// that series are affected.
    Branch,
    /// Fixed in this mainline release and every later one.
    Mainline,
    /// Fixed no later than this mainline release (an upper bound derived from evidence);
    /// releases between the last known affected one and this one stay unknown.
    Bound,
}

impl FixKind {
    /// The kind as evidence writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            FixKind::Branch => "stable-branch fix",
            FixKind::Mainline => "mainline fix",
            FixKind::Bound => "fixed no later than",
        }
    }
}

/// Evidence of where a fix landed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FixFact {
    /// The scheme the version is written in.
    pub scheme: VersionScheme,
    /// The first fixed release.
    pub version: String,
    /// What the fact covers.
    pub kind: FixKind,
    /// Where it comes from (a changelog line, a stable announcement, a derivation).
    pub source: String,
}

/// Every range, exact version and fix known for one product of an advisory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ranges {
    /// Affected ranges.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<Range>,
    /// Exactly named affected versions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<ExactVersion>,
    /// Where fixes landed, per stable branch or mainline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fixes: Vec<FixFact>,
}

/// What the ranges say about one version, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// The verdict.
    pub affected: Affected,
    /// One sentence naming the data that decided (or why nothing could).
    pub reason: String,
    /// The release carrying the fix, when known.
    pub fixed_in: Option<String>,
    /// The events of the range that decided, as text (`[introduced 0, fixed 9.1.0]`).
    pub range: Option<String>,
}

impl Assessment {
    pub(super) fn new(affected: Affected, reason: String) -> Self {
        Assessment {
            affected,
            reason,
            fixed_in: None,
            range: None,
        }
    }
}

impl Ranges {
    /// True when no range, version or fix is known: the advisory says nothing about versions.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty() && self.versions.is_empty() && self.fixes.is_empty()
    }

    /// Decides whether `version` is affected. An empty set, or one with nothing in the
    /// version's scheme, is `Unknown`: never "all versions", never "none".
    pub fn affects(&self, version: &Version) -> Affected {
        self.assess(version).affected
    }
}

/// The ranges as one line of text, for evidence (`[introduced 0, fixed 9.1.0] [...]`).
pub fn describe_ranges(ranges: &Ranges) -> String {
    let mut parts: Vec<String> = ranges
        .ranges
        .iter()
        .map(|r| {
            format!(
                "[{}]",
                r.events
                    .iter()
                    .map(Event::describe)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect();
    if !ranges.versions.is_empty() {
        parts.push(format!(
            "versions {}",
            ranges
                .versions
                .iter()
                .map(|e| e.version.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for f in &ranges.fixes {
        parts.push(format!("{} {}", f.kind.as_str(), f.version));
    }
    parts.join(" ")
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

    fn range(events: Vec<Event>) -> Range {
        Range {
            scheme: VersionScheme::Upstream,
            events,
            source: None,
        }
    }

    fn ranges(list: Vec<Vec<Event>>) -> Ranges {
        Ranges {
            ranges: list.into_iter().map(range).collect(),
            ..Ranges::default()
        }
    }

    fn intro(v: &str) -> Event {
        Event::Introduced(v.into())
    }
    fn fixed(v: &str) -> Event {
        Event::Fixed(v.into())
    }
    fn last(v: &str) -> Event {
        Event::LastAffected(v.into())
    }

    fn fact(version: &str, kind: FixKind) -> FixFact {
        FixFact {
            scheme: VersionScheme::Upstream,
            version: version.into(),
            kind,
            source: "test".into(),
        }
    }

    fn exact(v: &str) -> ExactVersion {
        ExactVersion {
            scheme: VersionScheme::Upstream,
            version: v.into(),
            source: None,
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
        let r = ranges(vec![vec![intro("8.1.0"), fixed("10.1.3")]]);
        assert_eq!(r.affects(&up("8.0.9")), Affected::No);
        assert_eq!(r.affects(&up("8.1.0")), Affected::Yes);
        assert_eq!(r.affects(&up("10.1.2")), Affected::Yes);
        assert_eq!(r.affects(&up("10.1.3")), Affected::No);
        assert_eq!(r.assess(&up("9.0.0")).fixed_in.as_deref(), Some("10.1.3"));
    }

    #[test]
    fn last_affected_is_known_affected_up_to_it_and_unknown_above() {
        let r = ranges(vec![vec![intro("0"), last("3.0.1")]]);
        assert_eq!(r.affects(&up("0.15")), Affected::Yes);
        assert_eq!(r.affects(&up("3.0.1")), Affected::Yes);
        let above = r.assess(&up("3.0.2"));
        assert_eq!(above.affected, Affected::Unknown);
        assert!(
            above.reason.contains("known affected up to 3.0.1"),
            "{}",
            above.reason
        );
    }

    #[test]
    fn exclusive_start_and_limit() {
        let r = ranges(vec![vec![
            Event::IntroducedAfter("1.0".into()),
            Event::Limit("2.0".into()),
        ]]);
        assert_eq!(r.affects(&up("1.0")), Affected::No);
        assert_eq!(r.affects(&up("1.5")), Affected::Yes);
        assert_eq!(r.affects(&up("2.1")), Affected::Unknown);
    }

    #[test]
    fn other_scheme_or_bad_bound_is_unknown() {
        let r = ranges(vec![vec![intro("0"), fixed("5.2.0")]]);
        let deb = Version::parse(VersionScheme::Dpkg, "1:7.2+dfsg-7");
        assert!(matches!(deb.map(|d| r.affects(&d)), Ok(Affected::Unknown)));
        let bad = ranges(vec![vec![intro("0"), fixed("n/a")]]);
        assert_eq!(bad.affects(&up("1.0")), Affected::Unknown);
        let no_start = ranges(vec![vec![fixed("5.2.0")]]);
        assert_eq!(no_start.affects(&up("1.0")), Affected::Unknown);
    }

    #[test]
    fn exact_versions_name_affected_ones_only() {
        let r = Ranges {
            versions: vec![exact("5.0.0")],
            ..Ranges::default()
        };
        assert_eq!(r.affects(&up("5.0")), Affected::Yes);
        assert_eq!(r.affects(&up("5.0.1")), Affected::Unknown);
        assert_eq!(r.affects(&up("4.2")), Affected::Unknown);
    }

    #[test]
    fn branch_fixes_decide_their_series() {
        // CVE-2023-42467: NVD stops at 8.0.0; 7.2.7 and 8.1.2 carry the fix; 8.2.0 at latest.
        let r = Ranges {
            ranges: vec![range(vec![intro("0"), last("8.0.0")])],
            versions: Vec::new(),
            fixes: vec![
                fact("7.2.7", FixKind::Branch),
                fact("8.1.2", FixKind::Branch),
                fact("8.2.0", FixKind::Bound),
            ],
        };
        assert_eq!(r.affects(&up("7.2.0")), Affected::Yes);
        assert_eq!(r.affects(&up("7.2.11")), Affected::No);
        assert_eq!(r.affects(&up("8.0.5")), Affected::Unknown);
        assert_eq!(r.affects(&up("8.0.0")), Affected::Yes);
        assert_eq!(r.affects(&up("8.1.0")), Affected::Yes);
        assert_eq!(r.affects(&up("8.1.2")), Affected::No);
        assert_eq!(r.affects(&up("8.2.2")), Affected::No);
        assert_eq!(r.affects(&up("6.2.0")), Affected::Yes);
        // A release candidate of 9.0 is above the bound.
        assert_eq!(r.affects(&up("9.0.0-rc0")), Affected::No);
    }

    #[test]
    fn a_bound_leaves_the_releases_before_it_unknown() {
        let r = Ranges {
            ranges: vec![range(vec![intro("7.1.0"), last("8.2.1")])],
            versions: Vec::new(),
            fixes: vec![
                fact("7.2.11", FixKind::Branch),
                fact("8.2.3", FixKind::Branch),
                fact("9.1.0", FixKind::Bound),
            ],
        };
        assert_eq!(r.affects(&up("8.2.2")), Affected::Yes);
        let between = r.assess(&up("9.0.0"));
        assert_eq!(between.affected, Affected::Unknown);
        assert_eq!(between.fixed_in.as_deref(), Some("9.1.0"));
        assert_eq!(r.affects(&up("10.0.3")), Affected::No);
        assert_eq!(r.affects(&up("6.2.0")), Affected::No);
    }

    #[test]
    fn a_later_affected_version_blocks_an_earlier_fix() {
        // CVE-2024-3447 as NVD has it.
        let r = Ranges {
            ranges: vec![
                range(vec![intro("0"), fixed("7.2.11")]),
                range(vec![intro("8.0.0"), fixed("8.2.3")]),
            ],
            versions: vec![exact("9.0.0-rc0"), exact("9.0.0")],
            fixes: Vec::new(),
        };
        assert_eq!(r.affects(&up("7.2.11")), Affected::No);
        assert_eq!(r.affects(&up("8.1.0")), Affected::Yes);
        assert_eq!(r.affects(&up("8.2.3")), Affected::No);
        assert_eq!(r.affects(&up("9.0.0-rc0")), Affected::Yes);
        assert_eq!(r.affects(&up("9.0.0")), Affected::Yes);
        assert_eq!(r.affects(&up("9.1.0")), Affected::Unknown);
    }

    #[test]
    fn a_mainline_fix_clears_what_is_above_it() {
        let r = Ranges {
            versions: vec![exact("5.2.0")],
            fixes: vec![fact("6.2.0", FixKind::Mainline)],
            ..Ranges::default()
        };
        assert_eq!(r.affects(&up("5.2.0")), Affected::Yes);
        assert_eq!(r.affects(&up("6.2.0")), Affected::No);
        assert_eq!(r.affects(&up("7.2.0")), Affected::No);
        assert_eq!(r.affects(&up("6.0.0")), Affected::Unknown);
    }
}
