//! OSV JSON records (osv.dev schema 1.x): single files, directories and the per-ecosystem
//! zip archives osv.dev publishes (`<ecosystem>/all.zip`).

use std::path::Path;

use serde::Deserialize;

use super::read::{json_from_slice, read_file, OSV_RECORD_LIMIT};
use crate::model::{
    parse_date, Advisory, AffectedProduct, CvssScore, Event, ExactVersion, Product, Range, Ranges,
};
use crate::version::VersionScheme;
use crate::ImportError;

#[derive(Debug, Deserialize)]
struct OsvRecord {
    id: String,
    #[serde(default)]
    aliases: Vec<String>,
    summary: Option<String>,
    details: Option<String>,
    published: Option<String>,
    modified: Option<String>,
    withdrawn: Option<String>,
    #[serde(default)]
    severity: Vec<OsvSeverity>,
    #[serde(default)]
    affected: Vec<OsvAffected>,
    #[serde(default)]
    references: Vec<OsvReference>,
    database_specific: Option<OsvDatabaseSpecific>,
}

#[derive(Debug, Deserialize)]
struct OsvSeverity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Debug, Deserialize)]
struct OsvAffected {
    package: Option<OsvPackage>,
    #[serde(default)]
    ranges: Vec<OsvRange>,
    #[serde(default)]
    versions: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct OsvPackage {
    ecosystem: String,
    name: String,
}

#[derive(Debug, Deserialize)]
struct OsvRange {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    events: Vec<Event>,
}

#[derive(Debug, Deserialize)]
struct OsvReference {
    url: String,
}

#[derive(Debug, Default, Deserialize)]
struct OsvDatabaseSpecific {
    #[serde(default)]
    cwe_ids: Vec<String>,
}

/// The version scheme an ecosystem's `ECOSYSTEM` ranges use; `None` when we cannot order it.
fn ecosystem_scheme(ecosystem: &str) -> Option<VersionScheme> {
    let base = ecosystem.split(':').next().unwrap_or(ecosystem);
    match base {
        "crates.io" => Some(VersionScheme::Semver),
        "Debian" | "Ubuntu" => Some(VersionScheme::Dpkg),
        "Red Hat" | "AlmaLinux" | "Rocky Linux" | "openSUSE" | "SUSE" | "Mageia" => {
            Some(VersionScheme::Rpm)
        }
        "GitHub Actions" | "Go" | "npm" | "Hex" | "Pub" | "Packagist" => {
            Some(VersionScheme::Semver)
        }
        _ => None,
    }
}

fn product_for(package: &OsvPackage) -> Product {
    if package.ecosystem == "crates.io" {
        return Product::from_crate_name(&package.name);
    }
    Product::from_package_name(&package.name)
        .unwrap_or_else(|| Product::Other(format!("{}/{}", package.ecosystem, package.name)))
}

fn convert_affected(entry: OsvAffected) -> Option<AffectedProduct> {
    let package = entry.package?;
    let eco_scheme = ecosystem_scheme(&package.ecosystem);
    let mut ranges = Ranges::default();
    for range in entry.ranges {
        let scheme = match range.kind.as_str() {
            "SEMVER" => Some(VersionScheme::Semver),
            "ECOSYSTEM" => eco_scheme,
            // GIT ranges name commits, which no installed binary reports.
            _ => None,
        };
        if let Some(scheme) = scheme {
            ranges.ranges.push(Range {
                scheme,
                events: range.events,
                source: None,
            });
        }
    }
    if let Some(scheme) = eco_scheme {
        ranges
            .versions
            .extend(entry.versions.into_iter().map(|version| ExactVersion {
                scheme,
                version,
                source: None,
            }));
    }
    Some(AffectedProduct {
        product: product_for(&package),
        package: Some(package.name),
        ranges,
    })
}

fn convert(path: &Path, record: OsvRecord) -> Result<Option<Advisory>, ImportError> {
    if record.withdrawn.is_some() {
        return Ok(None);
    }
    let date = |d: Option<String>| {
        d.map(|d| parse_date(&d))
            .transpose()
            .map_err(|m| ImportError::format(path, format!("{}: {m}", record.id)))
    };
    let mut adv = Advisory::new(record.id.clone());
    adv.published = date(record.published)?;
    adv.modified = date(record.modified)?;
    adv.aliases = record.aliases;
    adv.summary = record.summary.filter(|s| !s.trim().is_empty()).or_else(|| {
        record
            .details
            .and_then(|d| d.lines().next().map(str::to_owned))
    });
    for sev in record.severity {
        match sev.kind.as_str() {
            "CVSS_V3" => adv.cvss.v3 = Some(CvssScore::v3(&sev.score, None)),
            "CVSS_V4" => adv.cvss.v4 = Some(CvssScore::v4(&sev.score, None)),
            _ => {}
        }
    }
    adv.products = record
        .affected
        .into_iter()
        .filter_map(convert_affected)
        .collect();
    adv.references = record.references.into_iter().map(|r| r.url).collect();
    adv.cwe = record.database_specific.unwrap_or_default().cwe_ids;
    adv.provenance.feed = "osv".into();
    adv.provenance.range_origin = Some("osv".into());
    adv.label_sources(&format!("OSV record {}", adv.id));
    adv.normalize();
    Ok(Some(adv))
}

/// Parses one OSV record from bytes; `path` names it in errors. A withdrawn record gives `None`.
pub fn parse_osv(path: &Path, bytes: &[u8]) -> Result<Option<Advisory>, ImportError> {
    let record: OsvRecord = json_from_slice(path, bytes)?;
    convert(path, record)
}

/// Reads one OSV record file (at most 16 MiB).
pub fn import_osv_file(path: &Path) -> Result<Vec<Advisory>, ImportError> {
    let bytes = read_file(path, OSV_RECORD_LIMIT)?;
    Ok(parse_osv(path, &bytes)?.into_iter().collect())
}
