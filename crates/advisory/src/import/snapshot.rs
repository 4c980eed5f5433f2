//! hvguard's own advisory snapshot format, `hvguard.advisories/v1` (documented in
//! `docs/advisory-snapshot-format.md`): the curated hypervisor advisory facts.
//!
//! A file is either a bare JSON array of records (the curated file as published, read as
//! v1) or `{"format": "hvguard.advisories/v1", "advisories": [...]}`. A newer format string
//! is refused rather than half-read. Fields were only ever added within v1 (components,
//! binaries, platforms, devices, fix subjects, exact versions, fixes, per-fact sources), so
//! every v1 file written before still reads the same.

use std::path::Path;

use hvguard_core::HypervisorKind;
use serde::{Deserialize, Serialize};

use super::read::{json_from_slice, read_file, RECORD_LIMIT};
use crate::model::{
    parse_date, Advisory, AdvisoryKind, AffectedProduct, CvssScore, Event, ExactVersion, FixFact,
    FixKind, Platform, Product, Range, Ranges,
};
use crate::version::{Version, VersionScheme};
use crate::ImportError;

/// The format string of the current snapshot version.
pub const SNAPSHOT_FORMAT_V1: &str = "hvguard.advisories/v1";

#[derive(Debug, Deserialize)]
struct Wrapped {
    format: String,
    advisories: Vec<Record>,
}

/// One advisory as the snapshot writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    id: String,
    #[serde(default)]
    aliases: Vec<String>,
    product: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    package: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scheme: Option<VersionScheme>,
    published: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    modified: Option<String>,
    cvss_v3_vector: Option<String>,
    cvss_v3_score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cvss_v4_vector: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cvss_v4_score: Option<f64>,
    #[serde(default)]
    cwe: Vec<String>,
    component: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    components: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    binaries: Vec<HypervisorKind>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    hypervisors: Vec<HypervisorKind>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    platforms: Vec<Platform>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    devices: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    fix_subjects: Vec<String>,
    kind: Option<AdvisoryKind>,
    #[serde(default)]
    affected: Vec<Interval>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    versions: Vec<Named>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    fixes: Vec<Fix>,
    #[serde(default)]
    references: Vec<String>,
    source: Option<String>,
    summary: Option<String>,
    range_origin: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Interval {
    introduced: Option<String>,
    fixed: Option<String>,
    last_affected: Option<String>,
    /// NVD's `versionStartExcluding`: versions strictly above this one (instead of
    /// `introduced`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    introduced_after: Option<String>,
    /// Versions at or above this are outside the range, without saying a fix is there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    limit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Named {
    version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Fix {
    version: String,
    kind: FixKind,
    source: String,
}

/// The crate a curated rust-vmm record is about, from its `package` or its source note
/// (`... (crate vm-memory, SEMVER) ...`).
fn rust_vmm_crate(record: &Record) -> Option<String> {
    if let Some(p) = &record.package {
        return Some(p.clone());
    }
    let note = record.source.as_deref()?;
    let rest = &note[note.find("crate ")? + "crate ".len()..];
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

fn convert(path: &Path, record: Record) -> Result<Advisory, ImportError> {
    let fail = |m: String| ImportError::format(path, format!("advisory {}: {m}", record.id));
    let product = match record.product.as_str() {
        "rust-vmm" => Product::RustVmm(
            rust_vmm_crate(&record).ok_or_else(|| fail("rust-vmm record names no crate".into()))?,
        ),
        name => name.parse::<Product>().map_err(|e| fail(e.to_string()))?,
    };
    let scheme = record.scheme.unwrap_or(match product {
        Product::RustVmm(_) => VersionScheme::Semver,
        _ => VersionScheme::Upstream,
    });
    let check = |text: &str| -> Result<(), ImportError> {
        if text != "0" {
            Version::parse(scheme, text).map_err(|err| fail(err.to_string()))?;
        }
        Ok(())
    };
    let mut ranges = Ranges::default();
    for interval in &record.affected {
        let introduced = interval.introduced.clone().unwrap_or_else(|| "0".into());
        // The curated table wrote NVD's single-version CPEs as `introduced X, last_affected
        // X`: that names one affected version, it is not a range starting at X.
        if interval.fixed.is_none() && interval.last_affected.as_deref() == Some(&introduced) {
            check(&introduced)?;
            ranges.versions.push(ExactVersion {
                scheme,
                version: introduced,
                source: interval.source.clone(),
            });
            continue;
        }
        let mut events = match &interval.introduced_after {
            Some(after) => vec![Event::IntroducedAfter(after.clone())],
            None => vec![Event::Introduced(introduced)],
        };
        events.extend(interval.fixed.clone().map(Event::Fixed));
        events.extend(interval.last_affected.clone().map(Event::LastAffected));
        events.extend(interval.limit.clone().map(Event::Limit));
        for e in &events {
            check(e.version())?;
        }
        ranges.ranges.push(Range {
            scheme,
            events,
            source: interval.source.clone(),
        });
    }
    for named in &record.versions {
        check(&named.version)?;
        ranges.versions.push(ExactVersion {
            scheme,
            version: named.version.clone(),
            source: named.source.clone(),
        });
    }
    for fix in &record.fixes {
        check(&fix.version)?;
        ranges.fixes.push(FixFact {
            scheme,
            version: fix.version.clone(),
            kind: fix.kind,
            source: fix.source.clone(),
        });
    }
    let mut adv = Advisory::new(record.id.clone());
    adv.aliases = record.aliases;
    adv.summary = record.summary;
    adv.products.push(AffectedProduct {
        package: match &product {
            Product::RustVmm(c) => Some(c.clone()),
            _ => record.package,
        },
        product,
        ranges,
    });
    if let Some(v) = &record.cvss_v3_vector {
        let score = CvssScore::v3(v, record.cvss_v3_score);
        if score.score.is_none() {
            return Err(fail(format!("CVSS 3 vector {v:?} does not parse")));
        }
        adv.cvss.v3 = Some(score);
    }
    if let Some(v) = &record.cvss_v4_vector {
        adv.cvss.v4 = Some(CvssScore::v4(v, record.cvss_v4_score));
    }
    adv.cwe = record.cwe;
    adv.component = record.component;
    adv.components = record.components;
    adv.binaries = record.binaries;
    adv.hypervisors = record.hypervisors;
    adv.platforms = record.platforms;
    adv.devices = record.devices;
    adv.fix_subjects = record.fix_subjects;
    adv.kind = record.kind;
    adv.references = record.references;
    adv.published = record
        .published
        .as_deref()
        .map(parse_date)
        .transpose()
        .map_err(fail)?;
    adv.modified = record
        .modified
        .as_deref()
        .map(parse_date)
        .transpose()
        .map_err(fail)?;
    adv.provenance.feed = "hvguard-snapshot".into();
    adv.provenance.range_origin = record.range_origin;
    adv.provenance.note = record.source;
    adv.normalize();
    Ok(adv)
}

/// The record for `adv` (its first product; a snapshot record describes one product).
pub fn to_record(adv: &Advisory) -> Option<Record> {
    let entry = adv.products.first()?;
    let scheme = entry
        .ranges
        .ranges
        .first()
        .map(|r| r.scheme)
        .or_else(|| entry.ranges.versions.first().map(|v| v.scheme))
        .or_else(|| entry.ranges.fixes.first().map(|f| f.scheme));
    let default_scheme = match entry.product {
        Product::RustVmm(_) => VersionScheme::Semver,
        _ => VersionScheme::Upstream,
    };
    let affected = entry
        .ranges
        .ranges
        .iter()
        .map(|r| {
            let mut interval = Interval {
                introduced: None,
                fixed: None,
                last_affected: None,
                introduced_after: None,
                limit: None,
                source: r.source.clone(),
            };
            for e in &r.events {
                match e {
                    Event::Introduced(v) => interval.introduced = Some(v.clone()),
                    Event::IntroducedAfter(v) => interval.introduced_after = Some(v.clone()),
                    Event::Fixed(v) => interval.fixed = Some(v.clone()),
                    Event::Limit(v) => interval.limit = Some(v.clone()),
                    Event::LastAffected(v) => interval.last_affected = Some(v.clone()),
                }
            }
            if interval.introduced_after.is_none() {
                interval.introduced.get_or_insert_with(|| "0".into());
            }
            interval
        })
        .collect();
    let (product, package) = match &entry.product {
        Product::RustVmm(c) => ("rust-vmm".to_owned(), Some(c.clone())),
        p => (p.name(), entry.package.clone()),
    };
    Some(Record {
        id: adv.id.clone(),
        aliases: adv.aliases.clone(),
        product,
        package,
        scheme: scheme.filter(|s| *s != default_scheme),
        published: adv.published.map(|d| d.to_string()),
        modified: adv.modified.map(|d| d.to_string()),
        cvss_v3_vector: adv.cvss.v3.as_ref().map(|c| c.vector.clone()),
        cvss_v3_score: adv.cvss.v3.as_ref().and_then(|c| c.published_score),
        cvss_v4_vector: adv.cvss.v4.as_ref().map(|c| c.vector.clone()),
        cvss_v4_score: adv.cvss.v4.as_ref().and_then(|c| c.published_score),
        cwe: adv.cwe.clone(),
        component: adv.component.clone(),
        components: adv.components.clone(),
        binaries: adv.binaries.clone(),
        hypervisors: adv.hypervisors.clone(),
        platforms: adv.platforms.clone(),
        devices: adv.devices.clone(),
        fix_subjects: adv.fix_subjects.clone(),
        kind: adv.kind,
        affected,
        versions: entry
            .ranges
            .versions
            .iter()
            .map(|v| Named {
                version: v.version.clone(),
                source: v.source.clone(),
            })
            .collect(),
        fixes: entry
            .ranges
            .fixes
            .iter()
            .map(|f| Fix {
                version: f.version.clone(),
                kind: f.kind,
                source: f.source.clone(),
            })
            .collect(),
        references: adv.references.clone(),
        source: adv.provenance.note.clone(),
        summary: adv.summary.clone(),
        range_origin: adv.provenance.range_origin.clone(),
    })
}

/// An advisory the data build left out, and why (a rejected CVE id, for instance).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dropped {
    /// The advisory id.
    pub id: String,
    /// Why it is not in the snapshot.
    pub reason: String,
}

#[derive(Debug, Serialize)]
struct WrappedOut<'a> {
    format: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    built_by: Option<&'a str>,
    advisories: Vec<Record>,
    #[serde(skip_serializing_if = "<[Dropped]>::is_empty")]
    dropped: &'a [Dropped],
}

/// Writes advisories as a wrapped `hvguard.advisories/v1` document (sorted by id, pretty
/// printed, with a trailing newline), naming the command that built it and what was left
/// out.
pub fn write_snapshot(
    advisories: &[Advisory],
    dropped: &[Dropped],
    built_by: Option<&str>,
) -> Result<String, serde_json::Error> {
    let mut records: Vec<Record> = advisories.iter().filter_map(to_record).collect();
    records.sort_by(|a, b| a.id.cmp(&b.id));
    let doc = WrappedOut {
        format: SNAPSHOT_FORMAT_V1,
        built_by,
        advisories: records,
        dropped,
    };
    let mut text = serde_json::to_string_pretty(&doc)?;
    text.push('\n');
    Ok(text)
}

/// Reads a snapshot file.
pub fn import_snapshot(path: &Path) -> Result<Vec<Advisory>, ImportError> {
    parse_snapshot(path, &read_file(path, RECORD_LIMIT)?)
}

/// Parses a snapshot from bytes: a bare array is v1, an object must carry a known `format`.
pub fn parse_snapshot(path: &Path, bytes: &[u8]) -> Result<Vec<Advisory>, ImportError> {
    let bare = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    let records: Vec<Record> = if bare {
        json_from_slice(path, bytes)?
    } else {
        let wrapped: Wrapped = json_from_slice(path, bytes)?;
        if wrapped.format != SNAPSHOT_FORMAT_V1 {
            return Err(ImportError::format(
                path,
                format!(
                    "snapshot format {:?} is not supported (this build reads {SNAPSHOT_FORMAT_V1})",
                    wrapped.format
                ),
            ));
        }
        wrapped.advisories
    };
    let mut out = records
        .into_iter()
        .map(|r| convert(path, r))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}
