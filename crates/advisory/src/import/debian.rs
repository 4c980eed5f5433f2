//! The Debian security tracker JSON (`security-tracker.debian.org/tracker/data/json`):
//! `{ source-package: { CVE: { releases: { codename: { status, fixed_version, urgency } } } } }`.
//!
//! The real file is ~70 MB covering every Debian package; a visitor walks the top-level map
//! and deserializes only the packages we were asked for, skipping the rest with
//! `IgnoredAny`, so memory holds only hypervisor packages and never a `Value` of the file.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use super::read::{check_json_start, open_bounded, DUMP_LIMIT};
use crate::model::{DistroAdvisory, DistroFix, DistroStatus};
use crate::ImportError;

/// The source packages kept by default: the hypervisors Kata runs and their helpers.
pub const DEFAULT_DEBIAN_PACKAGES: &[&str] = &[
    "qemu",
    "firecracker",
    "cloud-hypervisor",
    "virtiofsd",
    "kata-containers",
    "rust-vmm",
    "edk2",
    "seabios",
    "libslirp",
];

#[derive(Debug, Deserialize)]
struct CveEntry {
    #[serde(default, deserialize_with = "releases_map")]
    releases: BTreeMap<String, ReleaseEntry>,
}

#[derive(Debug, Deserialize)]
struct ReleaseEntry {
    status: String,
    fixed_version: Option<String>,
    urgency: Option<String>,
}

/// The tracker writes an empty `releases` as `[]` instead of `{}` (seen in the real feed).
fn releases_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, ReleaseEntry>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum MapOrEmptyList {
        Map(BTreeMap<String, ReleaseEntry>),
        List(Vec<IgnoredAny>),
    }
    match MapOrEmptyList::deserialize(d)? {
        MapOrEmptyList::Map(m) => Ok(m),
        MapOrEmptyList::List(l) if l.is_empty() => Ok(BTreeMap::new()),
        MapOrEmptyList::List(_) => Err(serde::de::Error::custom("releases is a non-empty list")),
    }
}

/// The tracker's verdict mapped onto [`DistroStatus`]: `resolved` with version `0` means the
/// release never shipped the bug; an `unimportant` or `end-of-life` urgency is a decision
/// not to fix.
fn status_of(entry: &ReleaseEntry) -> DistroStatus {
    let urgency = entry.urgency.as_deref().unwrap_or("");
    match entry.status.as_str() {
        "resolved" if entry.fixed_version.as_deref() == Some("0") => DistroStatus::NotAffected,
        "resolved" => DistroStatus::Fixed,
        _ if urgency == "end-of-life" => DistroStatus::EndOfLife,
        _ if urgency == "unimportant" => DistroStatus::Unimportant,
        "open" => DistroStatus::Open,
        _ => DistroStatus::Undetermined,
    }
}

struct Packages<'a> {
    wanted: &'a BTreeSet<String>,
    out: &'a mut Vec<DistroAdvisory>,
}

impl<'de> Visitor<'de> for Packages<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of source package -> CVE -> releases")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(package) = map.next_key::<String>()? {
            if !self.wanted.contains(&package) {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let cves: BTreeMap<String, CveEntry> = map.next_value()?;
            for (cve, entry) in cves {
                for (release, r) in entry.releases {
                    let status = status_of(&r);
                    self.out.push(DistroAdvisory {
                        id: cve.clone(),
                        fix: DistroFix {
                            distro: "debian".into(),
                            release,
                            package: package.clone(),
                            status,
                            fixed_version: r
                                .fixed_version
                                .filter(|v| status == DistroStatus::Fixed || v != "0"),
                            urgency: r.urgency,
                            changelog: None,
                        },
                    });
                }
            }
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Packages<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

/// Reads Debian tracker JSON from any reader, keeping only `packages`.
pub fn parse_debian_tracker(
    path: &Path,
    reader: impl Read,
    packages: &BTreeSet<String>,
) -> Result<Vec<DistroAdvisory>, ImportError> {
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let head = reader.fill_buf().map_err(|e| ImportError::io(path, e))?;
    check_json_start(path, head)?;
    let mut out = Vec::new();
    let mut de = serde_json::Deserializer::from_reader(reader);
    Packages {
        wanted: packages,
        out: &mut out,
    }
    .deserialize(&mut de)
    .map_err(|e| ImportError::json(path, &e))?;
    de.end().map_err(|e| ImportError::json(path, &e))?;
    out.sort();
    Ok(out)
}

/// Reads the tracker JSON file, keeping only `packages` (source package names).
pub fn import_debian_tracker(
    path: &Path,
    packages: &BTreeSet<String>,
) -> Result<Vec<DistroAdvisory>, ImportError> {
    let file: File = open_bounded(path, DUMP_LIMIT)?;
    parse_debian_tracker(path, file.take(DUMP_LIMIT), packages)
}

/// The default package filter as a set.
pub fn default_debian_packages() -> BTreeSet<String> {
    DEFAULT_DEBIAN_PACKAGES
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tracker's shapes for a QEMU entry, trimmed to the fields read.
    const SAMPLE: &str = r#"{
      "prototypejs": {"CVE-2008-7220": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "1.6.0.2-1", "urgency": "high**"}}}},
      "qemu": {
        "CVE-2023-3180": {"releases": {"bookworm": {"status": "resolved", "repositories": {"bookworm": "1:7.2+dfsg-7+deb12u18"}, "fixed_version": "1:7.2+dfsg-7+deb12u2", "urgency": "not yet assigned"}}},
        "CVE-2021-20203": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "0", "urgency": "unimportant"}}},
        "CVE-2024-8354": {"releases": {"bookworm": {"status": "open", "urgency": "unimportant"}, "trixie": {"status": "open", "urgency": "not yet assigned"}}},
        "CVE-2019-0000": {"releases": {"buster": {"status": "open", "urgency": "end-of-life"}}},
        "TEMP-0000000-000000": {"releases": []}
      }
    }"#;

    #[test]
    fn tracker_statuses_map_onto_distro_status() {
        let facts = parse_debian_tracker(
            Path::new("tracker.json"),
            SAMPLE.as_bytes(),
            &default_debian_packages(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let find = |id: &str, release: &str| {
            facts
                .iter()
                .find(|f| f.id == id && f.fix.release == release)
                .map(|f| (f.fix.status, f.fix.fixed_version.clone()))
        };
        assert_eq!(facts.len(), 5, "prototypejs is filtered out: {facts:?}");
        assert_eq!(
            find("CVE-2023-3180", "bookworm"),
            Some((DistroStatus::Fixed, Some("1:7.2+dfsg-7+deb12u2".into())))
        );
        assert_eq!(
            find("CVE-2021-20203", "bookworm"),
            Some((DistroStatus::NotAffected, None))
        );
        assert_eq!(
            find("CVE-2024-8354", "bookworm"),
            Some((DistroStatus::Unimportant, None))
        );
        assert_eq!(
            find("CVE-2024-8354", "trixie"),
            Some((DistroStatus::Open, None))
        );
        assert_eq!(
            find("CVE-2019-0000", "buster"),
            Some((DistroStatus::EndOfLife, None))
        );
        assert!(facts
            .iter()
            .all(|f| f.fix.package == "qemu" && f.fix.distro == "debian"));
    }

    #[test]
    fn non_object_top_level_is_an_error() {
        let err = parse_debian_tracker(
            Path::new("t.json"),
            &b"[1, 2]"[..],
            &default_debian_packages(),
        );
        assert!(matches!(err, Err(ImportError::Json { .. })), "{err:?}");
    }
}
