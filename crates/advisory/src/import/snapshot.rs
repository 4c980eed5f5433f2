//! hvguard's own advisory snapshot format, `hvguard.advisories/v1` (documented in
//! `docs/advisory-snapshot-format.md`): the curated hypervisor advisory facts.
//!
//! A file is either a bare JSON array of records (the curated file as published, read as
//! v1) or `{"format": "hvguard.advisories/v1", "advisories": [...]}`. A newer format string
//! is refused rather than half-read.

use std::path::Path;

use serde::Deserialize;

use super::read::{json_from_slice, read_file, RECORD_LIMIT};
use crate::model::{
    parse_date, Advisory, AdvisoryKind, AffectedProduct, CvssScore, Event, Product, Range, Ranges,
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

#[derive(Debug, Deserialize)]
struct Record {
    id: String,
    #[serde(default)]
    aliases: Vec<String>,
    product: String,
    #[serde(default)]
    package: Option<String>,
    #[serde(default)]
    scheme: Option<VersionScheme>,
    published: Option<String>,
    #[serde(default)]
    modified: Option<String>,
    cvss_v3_vector: Option<String>,
    cvss_v3_score: Option<f64>,
    #[serde(default)]
    cvss_v4_vector: Option<String>,
    #[serde(default)]
    cvss_v4_score: Option<f64>,
    #[serde(default)]
    cwe: Vec<String>,
    component: Option<String>,
    kind: Option<AdvisoryKind>,
    #[serde(default)]
    affected: Vec<Interval>,
    #[serde(default)]
    references: Vec<String>,
    source: Option<String>,
    summary: Option<String>,
    range_origin: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Interval {
    introduced: Option<String>,
    fixed: Option<String>,
    last_affected: Option<String>,
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
    let mut ranges = Ranges::default();
    for interval in &record.affected {
        let mut events = vec![Event::Introduced(
            interval.introduced.clone().unwrap_or_else(|| "0".into()),
        )];
        events.extend(interval.fixed.clone().map(Event::Fixed));
        events.extend(interval.last_affected.clone().map(Event::LastAffected));
        for e in &events {
            if e.version() != "0" {
                Version::parse(scheme, e.version()).map_err(|err| fail(err.to_string()))?;
            }
        }
        ranges.ranges.push(Range { scheme, events });
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
