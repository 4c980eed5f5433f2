//! CVE JSON 5.x records (CVEProject/cvelistV5): the CNA container's affected versions,
//! metrics, problem types and references.
//!
//! Many QEMU records say `"version": "n/a"` or put prose in the version field ("QEMU versions
//! before 5.2.0"); those give no range, which the model keeps as *unknown*.

use std::path::Path;

use serde::Deserialize;

use super::read::{json_from_file, RECORD_LIMIT};
use crate::model::{
    parse_date, Advisory, AffectedProduct, CvssScore, DistroFix, DistroStatus, Event, ExactVersion,
    Product, Range, Ranges,
};
use crate::version::{Version, VersionScheme};
use crate::ImportError;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    cve_metadata: Metadata,
    containers: Containers,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    cve_id: String,
    state: String,
    date_published: Option<String>,
    date_updated: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Containers {
    cna: Option<Container>,
    #[serde(default)]
    adp: Vec<Container>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Container {
    title: Option<String>,
    #[serde(default)]
    descriptions: Vec<Description>,
    #[serde(default)]
    affected: Vec<Affected>,
    #[serde(default)]
    metrics: Vec<Metric>,
    #[serde(default)]
    problem_types: Vec<ProblemType>,
    #[serde(default)]
    references: Vec<Reference>,
}

#[derive(Debug, Deserialize)]
struct Description {
    lang: String,
    value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Affected {
    vendor: Option<String>,
    product: Option<String>,
    package_name: Option<String>,
    default_status: Option<String>,
    #[serde(default)]
    versions: Vec<AffectedVersion>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AffectedVersion {
    version: String,
    status: String,
    less_than: Option<String>,
    less_than_or_equal: Option<String>,
    version_type: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Metric {
    #[serde(rename = "cvssV3_1")]
    cvss_v3_1: Option<CvssData>,
    #[serde(rename = "cvssV3_0")]
    cvss_v3_0: Option<CvssData>,
    #[serde(rename = "cvssV4_0")]
    cvss_v4_0: Option<CvssData>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CvssData {
    vector_string: String,
    base_score: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct ProblemType {
    #[serde(default)]
    descriptions: Vec<ProblemDescription>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProblemDescription {
    cwe_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Reference {
    url: String,
}

/// `"0"`, `"*"`, `"unspecified"`: a start bound meaning "from the beginning".
fn is_open_start(text: &str) -> bool {
    matches!(text.trim(), "0" | "*" | "" | "unspecified" | "n/a" | "-")
}

fn scheme_for(version_type: Option<&str>) -> Option<VersionScheme> {
    match version_type.unwrap_or("custom") {
        "semver" => Some(VersionScheme::Semver),
        "rpm" => Some(VersionScheme::Rpm),
        "deb" | "dpkg" => Some(VersionScheme::Dpkg),
        // "git" names commits; anything else is the project's own numbering.
        "git" => None,
        _ => Some(VersionScheme::Upstream),
    }
}

/// Converts one `versions[]` entry with status `affected` into ranges or an exact version.
/// Prose that does not parse as a version yields nothing: unknown, not a guess.
fn add_version(ranges: &mut Ranges, v: &AffectedVersion) {
    if v.status != "affected" {
        return;
    }
    let Some(scheme) = scheme_for(v.version_type.as_deref()) else {
        return;
    };
    let parses = |t: &str| Version::parse(scheme, t).is_ok();
    let start = if is_open_start(&v.version) {
        Some(Event::Introduced("0".into()))
    } else if parses(&v.version) {
        Some(Event::Introduced(v.version.trim().to_owned()))
    } else {
        None
    };
    let end = match (&v.less_than, &v.less_than_or_equal) {
        (Some(lt), _) if lt.trim() != "*" => Some(Event::Fixed(lt.trim().to_owned())),
        (_, Some(le)) if le.trim() != "*" => Some(Event::LastAffected(le.trim().to_owned())),
        (Some(_), _) | (_, Some(_)) => None,
        (None, None) => {
            if let Some(Event::Introduced(exact)) = &start {
                if exact != "0" {
                    ranges.versions.push(ExactVersion {
                        scheme,
                        version: exact.clone(),
                        source: None,
                    });
                }
            }
            return;
        }
    };
    let Some(start) = start else { return };
    if end.as_ref().is_some_and(|e| !parses(e.version())) {
        return;
    }
    ranges.ranges.push(Range {
        scheme,
        events: std::iter::once(start).chain(end).collect(),
        source: None,
    });
}

/// Red Hat CNA entries (`Red Hat Enterprise Linux 9` / `qemu-kvm`) are distro verdicts.
fn rhel_fact(a: &Affected) -> Option<DistroFix> {
    if a.vendor.as_deref() != Some("Red Hat") {
        return None;
    }
    let release = a
        .product
        .as_deref()?
        .strip_prefix("Red Hat Enterprise Linux ")?;
    let package = a.package_name.clone()?;
    let status = match a.default_status.as_deref() {
        Some("unaffected") => DistroStatus::NotAffected,
        Some("affected") => DistroStatus::Open,
        _ => DistroStatus::Undetermined,
    };
    Some(DistroFix {
        distro: "rhel".into(),
        release: release.trim().to_owned(),
        package,
        status,
        fixed_version: None,
        urgency: None,
        changelog: None,
    })
}

fn product_of(a: &Affected) -> Option<Product> {
    [a.package_name.as_deref(), a.product.as_deref()]
        .into_iter()
        .flatten()
        .find_map(|name| {
            let name = name.trim();
            if name.eq_ignore_ascii_case("QEMU/virtiofsd") {
                return Some(Product::Virtiofsd);
            }
            Product::from_package_name(name)
        })
}

fn convert(path: &Path, record: Record) -> Result<Option<Advisory>, ImportError> {
    let meta = record.cve_metadata;
    if meta.state != "PUBLISHED" {
        return Ok(None);
    }
    let bad_date = |m: String| ImportError::format(path, format!("{}: {m}", meta.cve_id));
    let cna = record.containers.cna.unwrap_or_default();
    let mut adv = Advisory::new(meta.cve_id.clone());
    adv.published = meta
        .date_published
        .as_deref()
        .map(parse_date)
        .transpose()
        .map_err(bad_date)?;
    adv.modified = meta
        .date_updated
        .as_deref()
        .map(parse_date)
        .transpose()
        .map_err(bad_date)?;
    adv.summary = cna.title.clone().or_else(|| {
        cna.descriptions
            .iter()
            .find(|d| d.lang.starts_with("en"))
            .and_then(|d| d.value.lines().next().map(str::to_owned))
    });
    for a in &cna.affected {
        if let Some(fact) = rhel_fact(a) {
            adv.distro.push(fact);
            continue;
        }
        let Some(product) = product_of(a) else {
            continue;
        };
        let mut ranges = Ranges::default();
        for v in &a.versions {
            add_version(&mut ranges, v);
        }
        // A CNA often lists one product several times (per platform); merge them.
        match adv.products.iter_mut().find(|p| p.product == product) {
            Some(existing) => {
                existing.ranges.ranges.extend(ranges.ranges);
                existing.ranges.versions.extend(ranges.versions);
            }
            None => adv.products.push(AffectedProduct {
                product,
                package: a.package_name.clone().or_else(|| a.product.clone()),
                ranges,
            }),
        }
    }
    // The CNA's metrics win; CISA's ADP container fills in when the CNA gave none.
    for metric in cna
        .metrics
        .iter()
        .chain(record.containers.adp.iter().flat_map(|c| c.metrics.iter()))
    {
        if adv.cvss.v3.is_none() {
            if let Some(d) = metric.cvss_v3_1.as_ref().or(metric.cvss_v3_0.as_ref()) {
                adv.cvss.v3 = Some(CvssScore::v3(&d.vector_string, d.base_score));
            }
        }
        if adv.cvss.v4.is_none() {
            if let Some(d) = &metric.cvss_v4_0 {
                adv.cvss.v4 = Some(CvssScore::v4(&d.vector_string, d.base_score));
            }
        }
    }
    adv.cwe = cna
        .problem_types
        .iter()
        .flat_map(|p| p.descriptions.iter())
        .filter_map(|d| d.cwe_id.clone())
        .collect();
    adv.references = cna.references.iter().map(|r| r.url.clone()).collect();
    adv.provenance.feed = "cve5".into();
    adv.provenance.range_origin = Some("cna".into());
    adv.label_sources(&format!("CVE 5 record {} (CNA affected versions)", adv.id));
    adv.normalize();
    Ok(Some(adv))
}

/// Parses one CVE 5.x record from bytes. A rejected or reserved record gives `None`.
pub fn parse_cve5(path: &Path, bytes: &[u8]) -> Result<Option<Advisory>, ImportError> {
    let record: Record = super::read::json_from_slice(path, bytes)?;
    convert(path, record)
}

/// Reads one CVE 5.x record file.
pub fn import_cve5_file(path: &Path) -> Result<Vec<Advisory>, ImportError> {
    let record: Record = json_from_file(path, RECORD_LIMIT)?;
    Ok(convert(path, record)?.into_iter().collect())
}
