//! containerd as collected: which binary runs, and which release family's reading of the
//! configuration files applies.
//!
//! containerd's releases merge `imports` differently (see `docs/containerd.md`), so the same
//! files give different runtime handlers under 1.x and 2.x. The collector reads the files the
//! way every family does and tags each runtime entry with the families that see it that way;
//! the binary's version says which family is in play.

use crate::{PackageRef, VersionSource};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// A family of containerd releases that read configuration files and imports the same way.
///
/// Only what changes the runtime handlers separates two families; the exact source of each
/// difference is in `docs/containerd.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ContainerdSemantics {
    /// 1.x up to 1.6.28 and 1.7.15: an imported file replaces every plugin table it names;
    /// relative glob imports resolve against the daemon's working directory.
    #[serde(rename = "1.x-cwd-globs")]
    V1CwdGlobs,
    /// 1.6.29+ and 1.7.16+: as above, but relative glob imports resolve against the
    /// importing file's folder.
    #[serde(rename = "1.x")]
    V1,
    /// 2.0.0 and 2.0.1: plugin tables merge deeply; a merged version 2 moves the whole CRI
    /// table to `io.containerd.cri.v1.runtime`, replacing what was there.
    #[serde(rename = "2.0.0")]
    V2_0_0,
    /// 2.0.2 to 2.2.x: as 2.0.0, but the move keeps runtimes already under
    /// `io.containerd.cri.v1.runtime`.
    #[serde(rename = "2.0.2")]
    V2_0_2,
    /// 2.3 and later: every file is migrated to the current version before it is merged;
    /// an import may not declare a higher version than the main file.
    #[serde(rename = "2.3")]
    V2_3,
}

impl ContainerdSemantics {
    /// Every family, oldest first.
    pub const ALL: [ContainerdSemantics; 5] = [
        ContainerdSemantics::V1CwdGlobs,
        ContainerdSemantics::V1,
        ContainerdSemantics::V2_0_0,
        ContainerdSemantics::V2_0_2,
        ContainerdSemantics::V2_3,
    ];

    /// The family of a containerd version (`1.6.20`, `v2.0.2`, `1.6.20~ds1`, `2.1.0-rc.1`);
    /// `None` when the text is not a version.
    pub fn for_version(version: &str) -> Option<ContainerdSemantics> {
        let v = version.trim().trim_start_matches('v');
        let mut parts = v.splitn(3, '.');
        let major: u64 = parts.next()?.parse().ok()?;
        let minor: u64 = parts.next()?.parse().ok()?;
        let patch_text = parts.next().unwrap_or("0");
        let digits = patch_text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(patch_text.len());
        let patch: u64 = patch_text[..digits].parse().ok()?;
        Some(match (major, minor) {
            (0 | 1, m) if m < 6 => ContainerdSemantics::V1CwdGlobs,
            (1, 6) if patch < 29 => ContainerdSemantics::V1CwdGlobs,
            (1, 7) if patch < 16 => ContainerdSemantics::V1CwdGlobs,
            (0 | 1, _) => ContainerdSemantics::V1,
            (2, 0) if patch < 2 => ContainerdSemantics::V2_0_0,
            (2, 0..=2) => ContainerdSemantics::V2_0_2,
            _ => ContainerdSemantics::V2_3,
        })
    }

    /// The family's name in snapshots and fixtures (`1.x-cwd-globs`, `1.x`, `2.0.0`,
    /// `2.0.2`, `2.3`).
    pub fn id(self) -> &'static str {
        match self {
            ContainerdSemantics::V1CwdGlobs => "1.x-cwd-globs",
            ContainerdSemantics::V1 => "1.x",
            ContainerdSemantics::V2_0_0 => "2.0.0",
            ContainerdSemantics::V2_0_2 => "2.0.2",
            ContainerdSemantics::V2_3 => "2.3",
        }
    }

    /// The family named `id` (see [`ContainerdSemantics::id`]).
    pub fn from_id(id: &str) -> Option<ContainerdSemantics> {
        ContainerdSemantics::ALL.into_iter().find(|s| s.id() == id)
    }

    /// The releases of this family, for people.
    pub fn releases(self) -> &'static str {
        match self {
            ContainerdSemantics::V1CwdGlobs => "containerd 1.6.0-1.6.28/1.7.0-1.7.15",
            ContainerdSemantics::V1 => "containerd 1.6.29+/1.7.16+",
            ContainerdSemantics::V2_0_0 => "containerd 2.0.0-2.0.1",
            ContainerdSemantics::V2_0_2 => "containerd 2.0.2-2.2",
            ContainerdSemantics::V2_3 => "containerd 2.3+",
        }
    }

    /// containerd 1.x: plugin tables are replaced, not merged.
    pub fn is_v1(self) -> bool {
        matches!(
            self,
            ContainerdSemantics::V1CwdGlobs | ContainerdSemantics::V1
        )
    }
}

/// The releases named by a set of families, as short as it can be said
/// (`containerd 1.x`, `containerd 2.x`, `containerd 2.0-2.2`, or the families' ranges).
pub fn describe_readings(readings: &BTreeSet<ContainerdSemantics>) -> String {
    use ContainerdSemantics::*;
    const GROUPS: [(&[ContainerdSemantics], &str); 3] = [
        (&[V1CwdGlobs, V1], "containerd 1.x"),
        (&[V2_0_0, V2_0_2, V2_3], "containerd 2.x"),
        (&[V2_0_0, V2_0_2], "containerd 2.0-2.2"),
    ];
    let mut rest = readings.clone();
    let mut parts = Vec::new();
    for (group, name) in GROUPS {
        if group.iter().all(|s| rest.contains(s)) {
            parts.push(name.to_string());
            rest.retain(|s| !group.contains(s));
        }
    }
    parts.extend(rest.iter().map(|s| s.releases().to_string()));
    parts.join(", ")
}

/// A containerd binary and the version it was built as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerdBinary {
    pub path: PathBuf,
    /// Upstream version (`1.6.20`, `2.0.2`), when known.
    pub version: Option<String>,
    pub version_source: Option<VersionSource>,
    /// The exact text the version came from.
    pub version_evidence: Option<String>,
    pub package: Option<PackageRef>,
}

/// The families whose reading of the configuration applies to a host with these binaries:
/// the one family of the binaries' versions, or every family when no binary was found or
/// one has no recognisable version. Binaries of different families (two installs) give the
/// union: either may be the one that runs.
pub fn readings_in_play(binaries: &[ContainerdBinary]) -> BTreeSet<ContainerdSemantics> {
    let families: Option<BTreeSet<ContainerdSemantics>> = binaries
        .iter()
        .map(|b| {
            b.version
                .as_deref()
                .and_then(ContainerdSemantics::for_version)
        })
        .collect();
    match families {
        Some(set) if !set.is_empty() => set,
        _ => ContainerdSemantics::ALL.into_iter().collect(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use ContainerdSemantics::*;

    #[test]
    fn versions_map_to_families() {
        for (v, s) in [
            ("1.6.20", V1CwdGlobs),
            ("1.6.20~ds1", V1CwdGlobs),
            ("1.6.28", V1CwdGlobs),
            ("1.6.29", V1),
            ("v1.7.15", V1CwdGlobs),
            ("1.7.16", V1),
            ("1.7.24", V1),
            ("1.5.18", V1CwdGlobs),
            ("2.0.0", V2_0_0),
            ("2.0.0-rc.4", V2_0_0),
            ("2.0.1", V2_0_0),
            ("2.0.2", V2_0_2),
            ("2.1.4", V2_0_2),
            ("2.2.7", V2_0_2),
            ("2.3.0", V2_3),
            ("3.0.0", V2_3),
        ] {
            assert_eq!(ContainerdSemantics::for_version(v), Some(s), "{v}");
        }
        for bad in ["", "unknown", "1", "x.y.z", "1.x"] {
            assert_eq!(ContainerdSemantics::for_version(bad), None, "{bad}");
        }
    }

    #[test]
    fn descriptions_group_major_versions() {
        let all: BTreeSet<_> = ContainerdSemantics::ALL.into_iter().collect();
        assert_eq!(describe_readings(&all), "containerd 1.x, containerd 2.x");
        let ones: BTreeSet<_> = [V1CwdGlobs, V1].into_iter().collect();
        assert_eq!(describe_readings(&ones), "containerd 1.x");
        let older: BTreeSet<_> = [V2_0_0, V2_0_2].into_iter().collect();
        assert_eq!(describe_readings(&older), "containerd 2.0-2.2");
        let mixed: BTreeSet<_> = [V1, V2_3].into_iter().collect();
        assert_eq!(
            describe_readings(&mixed),
            "containerd 1.6.29+/1.7.16+, containerd 2.3+"
        );
    }

    #[test]
    fn readings_follow_the_binaries() {
        let bin = |v: Option<&str>| ContainerdBinary {
            path: "/usr/bin/containerd".into(),
            version: v.map(String::from),
            version_source: None,
            version_evidence: None,
            package: None,
        };
        assert_eq!(readings_in_play(&[]).len(), 5);
        assert_eq!(
            readings_in_play(&[bin(Some("1.6.20"))]),
            [V1CwdGlobs].into_iter().collect()
        );
        assert_eq!(readings_in_play(&[bin(Some("1.6.20")), bin(None)]).len(), 5);
        assert_eq!(
            readings_in_play(&[bin(Some("1.7.20")), bin(Some("2.0.4"))]),
            [V1, V2_0_2].into_iter().collect()
        );
    }

    #[test]
    fn serialised_names_are_stable() {
        let names: Vec<String> = ContainerdSemantics::ALL
            .iter()
            .map(|s| serde_json::to_string(s).unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "\"1.x-cwd-globs\"",
                "\"1.x\"",
                "\"2.0.0\"",
                "\"2.0.2\"",
                "\"2.3\""
            ]
        );
        for s in ContainerdSemantics::ALL {
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.id())
            );
            assert_eq!(ContainerdSemantics::from_id(s.id()), Some(s));
        }
    }

    #[test]
    fn entries_of_older_snapshots_still_load() {
        // A runtime entry as hvguard wrote it before containerd readings existed.
        let old = r#"{"name":"kata","runtime_type":"io.containerd.kata.v2","pod_annotations":["*"],
            "config_path":null,"path":"/etc/containerd/config.toml","line":3}"#;
        let entry: crate::ContainerdRuntime = serde_json::from_str(old).unwrap();
        assert!(entry.readings.is_empty());
        assert_eq!(entry.pod_annotations_path, None);
        assert_eq!(
            entry.pod_annotations_file(),
            std::path::Path::new("/etc/containerd/config.toml")
        );
        let all: BTreeSet<_> = ContainerdSemantics::ALL.into_iter().collect();
        assert!(entry.seen_by(&all));
        assert!(entry.seen_by(&[V2_3].into_iter().collect()));
    }
}
